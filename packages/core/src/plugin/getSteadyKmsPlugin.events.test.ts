import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CHANNEL_NAMES, type OperationEndMessage } from '../events/channels.js';
import { FakeClock } from '../internal/FakeClock.js';
import { LimiterRegistry } from '../limiter/LimiterRegistry.js';
import { CONTEXT_KEYS } from './context.js';
import { getSteadyKmsPlugin } from './getSteadyKmsPlugin.js';
import type { SteadyKmsPluginOptions } from './options.js';
import {
  scriptedHandler,
  settle,
  TEST_CREDENTIALS,
  THROTTLE_BODY,
  type ScriptedAnswer,
} from './testSupport.js';

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/k1';
const subscriptions: [string, (m: unknown) => void][] = [];
afterEach(() => {
  for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
});
function listen(name: string, into: unknown[]): void {
  const fn = (m: unknown): void => void into.push(m);
  subscribe(name, fn);
  subscriptions.push([name, fn]);
}

class CountingClock extends FakeClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

function makeClient(answers: ScriptedAnswer[], options: SteadyKmsPluginOptions = {}) {
  const handler = scriptedHandler(answers);
  const client = new KMSClient({
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    requestHandler: handler,
  });
  client.middlewareStack.use(getSteadyKmsPlugin({ region: 'us-east-1', ...options }));
  return { client, handler };
}

const gdk = () => new GenerateDataKeyCommand({ KeyId: 'alias/a', KeySpec: 'AES_256' });

describe('events', () => {
  it('builds no message and reads no clock for events when nobody subscribes', async () => {
    const clock = new CountingClock();
    const ok: ScriptedAnswer = { status: 200, body: { KeyId: ARN } };
    const opts = { quotas: false as const, clock, sleep: clock.sleep };
    const { client } = makeClient([ok], opts);
    for (let i = 0; i < 10; i++) await client.send(gdk());
    const unobserved = clock.reads;
    // One read per operation: the retry token's start, which maxTotalTimeMs needs.
    expect(unobserved).toBe(10);

    const seen: unknown[] = [];
    for (const name of Object.values(CHANNEL_NAMES)) listen(name, seen);
    clock.reads = 0;
    for (let i = 0; i < 10; i++) await client.send(gdk());
    expect(clock.reads).toBeGreaterThanOrEqual(40);
    expect(seen.length).toBeGreaterThanOrEqual(40);
    client.destroy();
  });

  it('publishes start, attempts, throttle, retry, wait and end with one operationId', async () => {
    const clock = new FakeClock();
    const messages: Record<string, unknown[]> = {};
    for (const [key, name] of Object.entries(CHANNEL_NAMES)) listen(name, (messages[key] = []));
    const { client } = makeClient(
      [
        { status: 400, body: THROTTLE_BODY },
        { status: 400, body: THROTTLE_BODY },
        { status: 200, body: { KeyId: ARN } },
      ],
      {
        clock,
        sleep: clock.sleep,
        registry: new LimiterRegistry(clock, clock.sleep),
        quotas: { overrides: { symmetric: 10 } },
        accountId: '111122223333',
        retry: { jitter: 'none' },
      },
    );
    await settle(clock, client.send(gdk()));
    const end = messages['operationEnd']?.[0] as OperationEndMessage;
    const id = end.operationId;
    for (const key of ['operationStart', 'attemptStart', 'attemptEnd', 'throttle', 'retry']) {
      const list = messages[key] as { operationId: number }[];
      expect(list.length, key).toBeGreaterThan(0);
      expect(
        list.every((m) => m.operationId === id),
        key,
      ).toBe(true);
    }
    expect(end).toMatchObject({
      operation: 'GenerateDataKey',
      region: 'us-east-1',
      accountId: '111122223333',
      pool: 'symmetric',
      billing: 'standard',
      keyId: 'alias/a',
      keyArn: ARN,
      requestId: 'req-2',
      attempts: 3,
      throttles: 2,
      cache: 'bypass',
      error: undefined,
    });
    // The first throttle held the pool to the next second, so the retry waited for the limiter; the
    // second, in the next window, confirmed the overload and lowered the rate (10 × 0.99 × 0.7).
    expect(end.waitMs).toBeGreaterThan(0);
    expect(messages['limiterWait']?.length).toBeGreaterThan(0);
    expect(messages['attemptEnd']).toMatchObject([
      { attempt: 1, outcome: 'throttled', httpStatus: 400, errorName: 'ThrottlingException' },
      { attempt: 2, outcome: 'throttled' },
      { attempt: 3, outcome: 'ok', httpStatus: 200 },
    ]);
    const throttles = messages['throttle'] as { attempt: number; rate: number }[];
    expect(throttles.map((m) => m.attempt)).toEqual([1, 2]);
    expect(throttles[0]?.rate).toBeCloseTo(9.9, 6);
    expect(throttles[1]?.rate).toBeCloseTo(6.93, 6);
    // The pool's first rate is published as soon as it is used (a gauge has a value before any
    // throttle), then the decrease.
    const rates = messages['rate'] as { rate: number }[];
    expect(rates[0]).toMatchObject({ pool: 'symmetric', ceiling: 10, quota: 10 });
    expect(rates[0]?.rate).toBeCloseTo(9.9, 6);
    expect(rates[1]?.rate).toBeCloseTo(6.93, 6);
    client.destroy();
  });

  it('lets a cache middleware read the operationId and report its result', async () => {
    const ends: OperationEndMessage[] = [];
    listen(CHANNEL_NAMES.operationEnd, ends);
    const { client, handler } = makeClient([{ status: 200, body: { KeyId: ARN } }], {
      quotas: false,
    });
    let seenId: unknown;
    client.middlewareStack.addRelativeTo(
      (_next: unknown, context: object) => () => {
        const ctx = context as Record<string, unknown>;
        seenId = ctx[CONTEXT_KEYS.operationId];
        ctx[CONTEXT_KEYS.cache] = 'hit';
        return Promise.resolve({
          output: { $metadata: {}, KeyId: ARN } as never,
          response: undefined,
        });
      },
      { relation: 'after', toMiddleware: 'steadykmsOperationMiddleware', name: 'fakeCache' },
    );
    await client.send(gdk());
    expect(typeof seenId).toBe('number');
    expect(ends[0]).toMatchObject({ operationId: seenId, cache: 'hit', attempts: 0 });
    expect(handler.requests).toHaveLength(0);
    client.destroy();
  });

  it('wires the Decrypt cache right after the operation middleware when asked', async () => {
    const ends: OperationEndMessage[] = [];
    listen(CHANNEL_NAMES.operationEnd, ends);
    const { client, handler } = makeClient(
      [
        {
          status: 200,
          body: { KeyId: ARN, Plaintext: 'AAECAw==', EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
        },
      ],
      { quotas: false, decryptCache: { ttlMs: 60_000, maxEntries: 10 } },
    );
    const names = client.middlewareStack.identify().map((n) => n.split(' ')[0]);
    expect(names.slice(0, 2)).toEqual(['steadykmsOperationMiddleware', 'steadykmsCacheMiddleware']);
    const decrypt = () =>
      client.send(new DecryptCommand({ CiphertextBlob: Buffer.from('ct'), KeyId: ARN }));
    const first = await decrypt();
    const second = await decrypt();
    expect(Buffer.from(second.Plaintext as Uint8Array)).toEqual(
      Buffer.from(first.Plaintext as Uint8Array),
    );
    expect(handler.requests).toHaveLength(1);
    expect(ends.map((e) => [e.cache, e.attempts])).toEqual([
      ['miss', 1],
      ['hit', 0],
    ]);
    client.destroy();
  });
});
