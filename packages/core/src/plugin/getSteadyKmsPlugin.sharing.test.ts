import { describe, expect, it } from 'vitest';
import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { FakeClock } from '../internal/FakeClock.js';
import { processRegistry } from '../limiter/LimiterRegistry.js';
import { getSteadyKmsCallPlugin, withSteadyKms } from './getSteadyKmsPlugin.js';
import { scriptedHandler, settle, TEST_CREDENTIALS } from './testSupport.js';

const ACCOUNT = '111122223333';
const ARN = (region: string, account = ACCOUNT) => `arn:aws:kms:${region}:${account}:key/k`;

/** A client on the fake clock whose handler records when each request went out. */
function client(clock: FakeClock, region: string, sent: number[], accountId?: string) {
  const c = new KMSClient({
    region,
    credentials: TEST_CREDENTIALS,
    requestHandler: scriptedHandler(
      () => ({ status: 200, body: { KeyId: ARN(region, accountId) } }),
      () => sent.push(clock.now()),
    ),
  });
  return withSteadyKms(c, {
    clock,
    sleep: clock.sleep,
    quotas: { overrides: { symmetric: 10 } },
    limiter: { headroom: 0 },
    ...(accountId === undefined ? {} : { accountId }),
  });
}

describe('two clients in one process', () => {
  it('share one bucket for the same account and region', async () => {
    const clock = new FakeClock();
    const sent: number[] = [];
    const a = client(clock, 'us-east-1', sent, ACCOUNT);
    const b = client(clock, 'us-east-1', sent, ACCOUNT);
    const calls = Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? a : b).send(
        new GenerateDataKeyCommand({ KeyId: ARN('us-east-1'), KeySpec: 'AES_256' }),
      ),
    );
    await settle(clock, Promise.all(calls));
    // 20 calls at 10 rps shared: 100 ms apart, about 1.9 s from first to last, not 0.9 s.
    expect(sent).toHaveLength(20);
    const gaps = sent.slice(1).map((t, i) => t - (sent[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(99);
    expect((sent.at(-1) as number) - (sent[0] as number)).toBeGreaterThanOrEqual(1_890);
    const limiters = processRegistry(clock).limiters();
    expect(limiters).toHaveLength(1);
    a.destroy();
    b.destroy();
  });

  it('keep separate buckets for different regions', async () => {
    const clock = new FakeClock();
    const sent: number[] = [];
    const a = client(clock, 'us-east-1', sent, ACCOUNT);
    const b = client(clock, 'eu-west-1', sent, ACCOUNT);
    const calls = Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? a : b).send(
        new GenerateDataKeyCommand({ KeyId: 'alias/x', KeySpec: 'AES_256' }),
      ),
    );
    await settle(clock, Promise.all(calls));
    expect((sent.at(-1) as number) - (sent[0] as number)).toBeLessThan(1_000);
    a.destroy();
    b.destroy();
  });

  it('moves calls of a not-yet-known account onto the account bucket once an ARN reveals it', async () => {
    const clock = new FakeClock();
    const sent: number[] = [];
    const a = client(clock, 'us-east-1', sent); // no accountId: learns it from the response
    await settle(
      clock,
      a.send(new GenerateDataKeyCommand({ KeyId: 'alias/x', KeySpec: 'AES_256' })),
    );
    const keys = processRegistry(clock)
      .limiters()
      .map((l) => l.key.accountId);
    expect(keys).toEqual([ACCOUNT]);
    // The next call (by ARN, same account) is paced by the same bucket: 100 ms after the first.
    const p = a.send(new GenerateDataKeyCommand({ KeyId: ARN('us-east-1'), KeySpec: 'AES_256' }));
    await settle(clock, p);
    expect((sent[1] as number) - (sent[0] as number)).toBeGreaterThanOrEqual(99);
    a.destroy();
  });

  it('serves interactive calls before queued batch calls (client option and per-call plugin)', async () => {
    const clock = new FakeClock();
    const order: string[] = [];
    const mk = (tag: string, priority: 'batch' | 'interactive') =>
      withSteadyKms(
        new KMSClient({
          region: 'us-east-1',
          credentials: TEST_CREDENTIALS,
          requestHandler: scriptedHandler(
            () => ({ status: 200, body: { KeyId: ARN('us-east-1') } }),
            () => order.push(tag),
          ),
        }),
        {
          clock,
          sleep: clock.sleep,
          quotas: { overrides: { symmetric: 10 } },
          priority,
          accountId: ACCOUNT,
        },
      );
    const batch = mk('b', 'batch');
    const interactive = mk('i', 'interactive');
    const send = (
      c: KMSClient,
      cmd = new GenerateDataKeyCommand({ KeyId: 'alias/x', KeySpec: 'AES_256' }),
    ) => c.send(cmd);
    const queued = async (n: number): Promise<void> => {
      for (let i = 0; i < 1000; i++) {
        if ((processRegistry(clock).limiters()[0]?.queued ?? 0) >= n) return;
        await new Promise((r) => setImmediate(r));
      }
      throw new Error(`never saw ${n} waiters`);
    };
    const first = Array.from({ length: 4 }, () => send(batch));
    await queued(3); // one granted at once, three batch calls wait
    const later = Array.from({ length: 2 }, () => send(interactive));
    // A batch client's command promoted to the interactive lane for one call.
    const promoted = new GenerateDataKeyCommand({ KeyId: 'alias/x', KeySpec: 'AES_256' });
    promoted.middlewareStack.use(getSteadyKmsCallPlugin({ priority: 'interactive' }));
    const urgent = batch.send(promoted).then(() => order.push('urgent-done'));
    await queued(6);
    await settle(clock, Promise.all([...first, ...later, urgent]));
    const sent = order.filter((x) => x !== 'urgent-done');
    // First the batch call granted at once, then the interactive lane (two interactive calls and the
    // promoted one, in their order of arrival), and only then the three batch calls that were waiting.
    expect(sent[0]).toBe('b');
    expect(sent.slice(1, 4).sort()).toEqual(['b', 'i', 'i']);
    expect(sent.slice(4)).toEqual(['b', 'b', 'b']);
    expect(order.indexOf('urgent-done')).toBeLessThan(order.length - 3);
    batch.destroy();
    interactive.destroy();
  });
});
