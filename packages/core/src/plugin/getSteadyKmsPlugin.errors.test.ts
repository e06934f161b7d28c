import { describe, expect, it } from 'vitest';
import {
  CreateKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  KMSServiceException,
  NotFoundException,
} from '@aws-sdk/client-kms';
import {
  AbortedError,
  DeadlineExceededError,
  KmsError,
  QuotaExceededError,
  SteadyKmsError,
  ThrottledError,
} from '../errors.js';
import { FakeClock } from '../internal/FakeClock.js';
import { LimiterRegistry } from '../limiter/LimiterRegistry.js';
import { getSteadyKmsPlugin } from './getSteadyKmsPlugin.js';
import type { SteadyKmsPluginOptions } from './options.js';
import {
  scriptedHandler,
  TEST_CREDENTIALS,
  THROTTLE_BODY,
  type ScriptedAnswer,
} from './testSupport.js';

const OK: ScriptedAnswer = {
  status: 200,
  body: { KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k' },
};

function setup(answers: ScriptedAnswer[], options: SteadyKmsPluginOptions = {}) {
  const clock = new FakeClock();
  const handler = scriptedHandler(answers);
  const client = new KMSClient({
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    requestHandler: handler,
  });
  client.middlewareStack.use(
    getSteadyKmsPlugin({
      region: 'us-east-1',
      clock,
      sleep: clock.sleep,
      registry: new LimiterRegistry(clock, clock.sleep),
      ...options,
    }),
  );
  /** Sends and drives the fake clock until the call settles. */
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let settled = false;
    const watched = p.finally(() => (settled = true));
    watched.catch(() => undefined);
    for (let i = 0; i < 200 && !settled; i++) await clock.advance(100);
    return watched;
  };
  return { client, handler, clock, run };
}

const gdk = () => new GenerateDataKeyCommand({ KeyId: 'alias/a', KeySpec: 'AES_256' });
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );

describe('typed errors', () => {
  it('wraps a KMS error, keeping its name, $metadata, instanceof and the SDK error as cause', async () => {
    const { client, run, handler } = setup([
      { status: 400, body: { __type: 'NotFoundException', message: 'Key not found' } },
    ]);
    const e = await failure(run(client.send(gdk())));
    expect(KmsError.is(e)).toBe(true);
    expect(SteadyKmsError.is(e)).toBe(true);
    const err = e as KmsError;
    expect(err.code).toBe('KMS_ERROR');
    expect(err.name).toBe('NotFoundException');
    expect(err).toBeInstanceOf(NotFoundException);
    expect(err.cause).toBeInstanceOf(NotFoundException);
    expect(err.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
    expect(handler.requests).toHaveLength(1);
  });

  it('a ThrottlingException that reaches the caller says how many attempts and how long it waited', async () => {
    const { client, run, handler } = setup([{ status: 400, body: THROTTLE_BODY }], {
      quotas: { overrides: { symmetric: 100 } },
      retry: { maxAttempts: 3 },
    });
    const e = await failure(run(client.send(gdk())));
    expect(ThrottledError.is(e)).toBe(true);
    const err = e as ThrottledError;
    expect(err.name).toBe('ThrottlingException');
    expect(err).toBeInstanceOf(KMSServiceException);
    expect(err.attempts).toBe(3);
    expect(err.throttles).toBe(3);
    expect(err.waitMs).toBeGreaterThan(0);
    expect(err.message).toMatch(/on 3 of 3 attempts \(\d+ ms waiting for the local limiter\)/);
    expect(err.message).toMatch(/retry\.maxAttempts/);
    expect(handler.requests).toHaveLength(3);
  });

  it('never retries LimitExceededException and raises QuotaExceededError', async () => {
    const { client, run, handler } = setup([
      { status: 400, body: { __type: 'LimitExceededException', message: 'too many keys' } },
    ]);
    const e = await failure(run(client.send(new CreateKeyCommand({}))));
    expect(QuotaExceededError.is(e)).toBe(true);
    expect((e as Error).name).toBe('LimitExceededException');
    expect(handler.requests).toHaveLength(1);
  });

  it('does not retry a non-idempotent CreateKey after a reset, but does retry GenerateDataKey', async () => {
    const a = setup([{ networkError: 'ECONNRESET' }, OK]);
    const e = await failure(a.run(a.client.send(new CreateKeyCommand({}))));
    expect(KmsError.is(e)).toBe(true);
    expect(a.handler.requests).toHaveLength(1);

    const b = setup([{ networkError: 'ECONNRESET' }, OK]);
    await b.run(b.client.send(gdk()));
    expect(b.handler.requests).toHaveLength(2);
  });

  it('retries a 500 within the retry budget', async () => {
    const { client, run, handler } = setup([
      { status: 500, body: { __type: 'KMSInternalException', message: 'x' } },
      OK,
    ]);
    const out = await run(client.send(gdk()));
    expect(out.$metadata.attempts).toBe(2);
    expect(handler.requests).toHaveLength(2);
  });

  it('stops at an abort during backoff with AbortedError and sends nothing more', async () => {
    const { client, clock, handler } = setup([{ status: 400, body: THROTTLE_BODY }], {
      quotas: false,
      retry: { throttleBaseDelayMs: 1_000, jitter: 'none' },
    });
    const controller = new AbortController();
    const p = failure(client.send(gdk(), { abortSignal: controller.signal }));
    await clock.advance(10);
    controller.abort();
    const e = await p;
    expect(AbortedError.is(e)).toBe(true);
    expect((e as Error).name).toBe('AbortError');
    await clock.advance(5_000);
    expect(handler.requests).toHaveLength(1);
  });

  it("fails fast with DeadlineExceededError when the limiter's wait would pass the deadline", async () => {
    const { client, run, handler, clock } = setup([OK], {
      quotas: { overrides: { symmetric: 1 } },
      deadlineMs: 200,
    });
    await run(client.send(gdk()));
    const t0 = clock.now();
    const e = await failure(client.send(gdk()));
    expect(DeadlineExceededError.is(e)).toBe(true);
    expect(clock.now()).toBe(t0);
    expect(handler.requests).toHaveLength(1);
  });

  it('passes an error that is neither from KMS nor the transport through unchanged', async () => {
    const { client, run } = setup([OK], { quotas: false });
    const bug = new TypeError('a bug in a user middleware');
    client.middlewareStack.add(() => () => Promise.reject(bug), { step: 'build', name: 'buggy' });
    expect(await failure(run(client.send(gdk())))).toBe(bug);
  });
});
