import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CHANNEL_NAMES } from '../events/channels.js';
import { FakeClock } from '../internal/FakeClock.js';
import { LimiterRegistry } from '../limiter/LimiterRegistry.js';
import { getSteadyKmsPlugin, withSteadyKms } from './getSteadyKmsPlugin.js';
import { scriptedHandler, settle, TEST_CREDENTIALS, THROTTLE_BODY } from './testSupport.js';

const subscriptions: [string, (m: unknown) => void][] = [];
afterEach(() => {
  for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
});
function record(log: string[], name: keyof typeof CHANNEL_NAMES): void {
  const fn = (m: unknown): void => {
    const attempt = (m as { attempt?: number }).attempt;
    log.push(attempt === undefined ? name : `${name}#${attempt}`);
  };
  subscribe(CHANNEL_NAMES[name], fn);
  subscriptions.push([CHANNEL_NAMES[name], fn]);
}

describe('plugin middleware order', () => {
  it('places operation first, retry in the SDK slot, the limiter per attempt before signing', () => {
    const client = withSteadyKms(
      new KMSClient({ region: 'us-east-1', credentials: TEST_CREDENTIALS }),
      { quotas: false },
    );
    const names = client.middlewareStack.identify().map((s) => s.split(' ')[0]);
    const at = (n: string): number => names.indexOf(n);
    expect(at('steadykmsOperationMiddleware')).toBe(0);
    expect(names.filter((n) => n === 'retryMiddleware')).toHaveLength(1);
    expect(at('steadykmsLimiterMiddleware')).toBe(at('retryMiddleware') + 1);
    expect(at('httpSigningMiddleware')).toBeGreaterThan(at('steadykmsLimiterMiddleware'));
    client.destroy();
  });

  it('runs operation once, then retry -> limiter -> send for every attempt', async () => {
    const log: string[] = [];
    for (const n of [
      'operationStart',
      'operationEnd',
      'attemptStart',
      'attemptEnd',
      'throttle',
      'retry',
    ] as const) {
      record(log, n);
    }
    const clock = new FakeClock();
    const handler = scriptedHandler(
      [
        { status: 400, body: THROTTLE_BODY },
        { status: 200, body: { KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k' } },
      ],
      () => log.push('send'),
    );
    const client = new KMSClient({
      region: 'us-east-1',
      credentials: TEST_CREDENTIALS,
      requestHandler: handler,
      retryMode: 'adaptive',
      maxAttempts: 1,
    });
    client.middlewareStack.use(
      getSteadyKmsPlugin({
        region: 'us-east-1',
        quotas: { overrides: { symmetric: 1000 } },
        clock,
        sleep: (ms, signal) => {
          log.push('backoff');
          return clock.sleep(ms, signal);
        },
        registry: new LimiterRegistry(clock, clock.sleep),
        retry: { jitter: 'none' },
      }),
    );
    client.middlewareStack.add(
      (next) => (args) => {
        log.push('initialize(user)');
        return next(args);
      },
      { step: 'initialize', name: 'userProbe' },
    );
    const pending = client.send(
      new GenerateDataKeyCommand({ KeyId: 'alias/a', KeySpec: 'AES_256' }),
    );
    // The SDK's own adaptive mode and maxAttempts: 1 must not apply: our strategy retries the throttle.
    const out = await settle(clock, pending);
    expect(out.$metadata.attempts).toBe(2);
    expect(log).toEqual([
      'operationStart',
      'initialize(user)',
      'attemptStart#1',
      'send',
      'throttle#1',
      'attemptEnd#1',
      'retry#1',
      'backoff',
      'attemptStart#2',
      'send',
      'attemptEnd#2',
      'operationEnd',
    ]);
    // Each attempt was signed after the limiter granted it, with the SDK's attempt header.
    expect(handler.requests.map((r) => r.headers['amz-sdk-request'])).toEqual([
      'attempt=1; max=5',
      'attempt=2; max=5',
    ]);
    expect(handler.requests.every((r) => r.headers['authorization']?.startsWith('AWS4'))).toBe(
      true,
    );
    client.destroy();
  });
});
