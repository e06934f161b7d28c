import { describe, expect, it } from 'vitest';
import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { FakeClock } from '../internal/FakeClock.js';
import { processRegistry } from '../limiter/LimiterRegistry.js';
import { withSteadyKms } from './getSteadyKmsPlugin.js';
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
});
