import type { AuditLog } from './AuditLog.js';
import type { FaultInjector, FaultsSetting } from './faults.js';
import type { StatsRecorder } from './Stats.js';

/** What the admin routes can read and change. */
export interface AdminDeps {
  readonly stats: StatsRecorder;
  readonly faults: FaultInjector;
  readonly audit: AuditLog | undefined;
}

/**
 * The admin routes under `/__admin/`, outside the KMS protocol: stats (with this process's own CPU
 * time, which benchmarks read), faults, audit records and health. Plain JSON; errors are
 * `{ "error": message }`.
 */
export function adminRoute(
  deps: AdminDeps,
  req: { readonly method?: string | undefined },
  reply: (status: number, contentType: string, body: string) => void,
  path: string,
  query: string,
  body: Buffer,
): void {
  const { stats, faults, audit } = deps;
  const json = (status: number, value: unknown): void => {
    reply(status, 'application/json', JSON.stringify(value));
  };
  if (req.method === 'GET' && path === '/__admin/stats') {
    const cpu = process.cpuUsage();
    json(200, {
      ...stats.snapshot(),
      process: {
        pid: process.pid,
        cpuUserMicros: cpu.user,
        cpuSystemMicros: cpu.system,
        uptimeSeconds: process.uptime(),
      },
    });
  } else if (req.method === 'POST' && path === '/__admin/stats/reset') {
    stats.reset();
    json(200, {});
  } else if (req.method === 'GET' && path === '/__admin/faults') {
    json(200, faults.get());
  } else if (req.method === 'POST' && path === '/__admin/faults') {
    try {
      const setting = JSON.parse(body.toString('utf8') || '{}') as FaultsSetting;
      if (typeof setting !== 'object' || setting === null)
        throw new RangeError('faults must be an object');
      faults.set(setting);
      json(200, faults.get());
    } catch (e) {
      json(400, { error: e instanceof Error ? e.message : String(e) });
    }
  } else if (req.method === 'GET' && path === '/__admin/audit') {
    const limit = Number(new URLSearchParams(query).get('limit') ?? 1000);
    json(200, { events: audit?.recent(Number.isFinite(limit) ? limit : 1000) ?? [] });
  } else if (req.method === 'GET' && path === '/__admin/health') {
    json(200, { ok: true });
  } else {
    json(404, { error: `no admin route ${req.method ?? ''} ${path}` });
  }
}
