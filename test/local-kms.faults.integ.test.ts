import { afterEach, describe, expect, it } from 'vitest';
import {
  CreateKeyCommand,
  EncryptCommand,
  KMSServiceException,
  type KMSClient,
} from '@aws-sdk/client-kms';
import type { FaultsSetting } from '@steadykms/local-kms';
import { startTestKms, type TestKms } from './support/index.js';

const servers: TestKms[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(
  faults: FaultsSetting,
): Promise<{ kms: TestKms; client: KMSClient; keyId: string }> {
  const kms = await startTestKms({ quotas: false, faults });
  servers.push(kms);
  const client = kms.client();
  const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  return { kms, client, keyId };
}

/** The outcome of one call: 'ok', the KMS error name and status, or the socket error code. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (e) {
    if (e instanceof KMSServiceException) return `${e.name}/${e.$metadata.httpStatusCode}`;
    const code = (e as { code?: string }).code ?? (e as Error).name;
    return `socket:${code}`;
  }
}

async function sequence(client: KMSClient, keyId: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await outcome(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))),
    );
  }
  return out;
}

const FAULTS: FaultsSetting = {
  seed: 20261128,
  operations: { Encrypt: { internalError: 0.25, dependencyTimeout: 0.2, reset: 0.1 } },
};

describe('fault injection', () => {
  it('injects 500 KMSInternalException, 503 DependencyTimeoutException and resets, the same way for the same seed', async () => {
    const a = await start(FAULTS);
    const b = await start(FAULTS);
    const first = await sequence(a.client, a.keyId, 60);
    const second = await sequence(b.client, b.keyId, 60);
    expect(second).toEqual(first);
    expect(first).toContain('KMSInternalException/500');
    expect(first).toContain('DependencyTimeoutException/503');
    expect(first.some((o) => o.startsWith('socket:'))).toBe(true);
    expect(first).toContain('ok');
    const s = a.kms.server.stats().byOperation['Encrypt']!;
    expect(s.faulted).toBe(first.filter((o) => o !== 'ok').length);
    expect(s.accepted).toBe(first.filter((o) => o === 'ok').length);
    // CreateKey had no spec, so it was never faulted.
    expect(a.kms.server.stats().byOperation['CreateKey']?.faulted).toBe(0);
  });

  it('a different seed gives a different sequence', async () => {
    const a = await start(FAULTS);
    const b = await start({ ...FAULTS, seed: 1 });
    expect(await sequence(b.client, b.keyId, 40)).not.toEqual(
      await sequence(a.client, a.keyId, 40),
    );
  });

  it('setFaults() changes faults at runtime and restarts the stream from the seed', async () => {
    const { kms, client, keyId } = await start({});
    expect(await sequence(client, keyId, 5)).toEqual(Array(5).fill('ok'));
    kms.server.setFaults({ operations: { Encrypt: { internalError: 1 } } });
    expect(await sequence(client, keyId, 3)).toEqual(Array(3).fill('KMSInternalException/500'));
    kms.server.setFaults(FAULTS);
    const replay = await sequence(client, keyId, 30);
    const fresh = await start(FAULTS);
    expect(await sequence(fresh.client, fresh.keyId, 30)).toEqual(replay);
  });

  it('POST /__admin/faults sets faults over HTTP, outside the KMS protocol; bad settings get 400', async () => {
    const { kms, client, keyId } = await start({});
    const set = await fetch(`${kms.url}/__admin/faults`, {
      method: 'POST',
      body: JSON.stringify({ operations: { '*': { dependencyTimeout: 1 } } }),
    });
    expect(set.status).toBe(200);
    expect(await sequence(client, keyId, 2)).toEqual(
      Array(2).fill('DependencyTimeoutException/503'),
    );
    const got = (await (await fetch(`${kms.url}/__admin/faults`)).json()) as FaultsSetting;
    expect(got.operations?.['*']?.dependencyTimeout).toBe(1);
    const bad = await fetch(`${kms.url}/__admin/faults`, {
      method: 'POST',
      body: JSON.stringify({ operations: { Encrypt: { reset: 3 } } }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/reset/);
    const stats = (await (await fetch(`${kms.url}/__admin/stats`)).json()) as {
      byOperation: Record<string, { faulted: number }>;
      process: { cpuUserMicros: number };
    };
    expect(stats.byOperation['Encrypt']?.faulted).toBe(2);
    expect(stats.process.cpuUserMicros).toBeGreaterThan(0);
  });

  it('adds fixed latency plus jitter', async () => {
    const { client, keyId } = await start({
      operations: { Encrypt: { latencyMs: 120, jitterMs: 30 } },
    });
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
      const ms = performance.now() - t0;
      expect(ms).toBeGreaterThanOrEqual(119);
      expect(ms).toBeLessThan(10_000);
    }
  });

  it('rejects an invalid fault setting at start, naming the option', async () => {
    await expect(
      startTestKms({ faults: { operations: { Encrypt: { internalError: -1 } } } }),
    ).rejects.toThrow(/faults\.operations\['Encrypt'\]\.internalError/);
  });
});
