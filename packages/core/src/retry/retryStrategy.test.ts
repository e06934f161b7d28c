import { describe, expect, it } from 'vitest';
import type { RetryErrorInfo, RetryErrorType, SdkError } from '@smithy/types';
import { FakeClock } from '../internal/FakeClock.js';
import { ExponentialBackoff } from './ExponentialBackoff.js';
import { classifyError, type ErrorClass } from './classifyError.js';
import {
  RetryRefusedError,
  SteadyRetryStrategy,
  type RetryOptions,
  type RetryRefusalReason,
} from './retryStrategy.js';

/** A KMS error as the SDK builds it: a KMSServiceException with a name, $fault and $metadata. */
function kmsError(name: string, status: number, message = 'm'): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}
const netError = (code: string): Error => Object.assign(new Error(`socket ${code}`), { code });

const THROTTLE = kmsError('ThrottlingException', 400);
const LIMIT = kmsError('LimitExceededException', 400);
const NOT_FOUND = kmsError('NotFoundException', 400);
const INTERNAL = kmsError('KMSInternalException', 500);
const DEP_TIMEOUT = kmsError('DependencyTimeoutException', 503);
const RESET = netError('ECONNRESET');
const REFUSED = netError('ECONNREFUSED');

describe('classifyError', () => {
  it.each<[string, unknown, ErrorClass]>([
    ['ThrottlingException', THROTTLE, 'throttled'],
    ['a namespaced __type', kmsError('com.amazonaws.kms#ThrottlingException', 400), 'throttled'],
    ["another service's 'Rate exceeded'", kmsError('Unknown', 400, 'Rate exceeded'), 'throttled'],
    ['HTTP 429', kmsError('Whatever', 429), 'throttled'],
    ['LimitExceededException (a resource quota)', LIMIT, 'quota'],
    ['KMSInternalException 500', INTERNAL, 'server'],
    ['DependencyTimeoutException 503', DEP_TIMEOUT, 'server'],
    ['KeyUnavailableException 500', kmsError('KeyUnavailableException', 500), 'server'],
    ['a reset connection', RESET, 'transient'],
    ['a timeout', Object.assign(new Error('t'), { name: 'TimeoutError' }), 'transient'],
    ['a refused connection (never sent)', REFUSED, 'unsent'],
    ['NotFoundException', NOT_FOUND, 'client'],
    ['AccessDeniedException', kmsError('AccessDeniedException', 400), 'client'],
    ['an AbortError', Object.assign(new Error('a'), { name: 'AbortError' }), 'aborted'],
  ])('%s', (_, error, expected) => {
    expect(classifyError(error)).toBe(expected);
  });
});

function strategy(options: RetryOptions = {}, clock = new FakeClock(0)) {
  return { clock, s: new SteadyRetryStrategy({ jitter: 'none', ...options }, clock) };
}
const info = (error: Error, errorType: RetryErrorType = 'CLIENT_ERROR'): RetryErrorInfo => ({
  error: error as SdkError,
  errorType,
});
function refusal(fn: () => unknown): RetryRefusalReason | 'retried' {
  try {
    fn();
    return 'retried';
  } catch (e) {
    if (e instanceof RetryRefusedError) return e.reason;
    throw e;
  }
}

describe('SteadyRetryStrategy decisions', () => {
  it.each<[string, Error, boolean, RetryRefusalReason | 'retried']>([
    ['retries a throttle', THROTTLE, true, 'retried'],
    [
      'retries a throttle of a non-idempotent call (a definite rejection)',
      THROTTLE,
      false,
      'retried',
    ],
    ['never retries LimitExceededException', LIMIT, true, 'not-retryable'],
    ['does not retry a client fault', NOT_FOUND, true, 'not-retryable'],
    ['retries a 500 of an idempotent call', INTERNAL, true, 'retried'],
    ['retries a 503 of an idempotent call', DEP_TIMEOUT, true, 'retried'],
    ['retries a reset of an idempotent call', RESET, true, 'retried'],
    ['does not retry a reset of a non-idempotent call', RESET, false, 'ambiguous'],
    ['does not retry a 500 of a non-idempotent call', INTERNAL, false, 'ambiguous'],
    [
      'retries a refused connection of a non-idempotent call (never sent)',
      REFUSED,
      false,
      'retried',
    ],
  ])('%s', (_, error, idempotent, expected) => {
    const { s } = strategy();
    const token = s.acquireTokenFor({ idempotent });
    expect(refusal(() => s.decide(token, info(error)))).toBe(expected);
  });

  it("ignores the SDK's errorType: LimitExceededException is not throttling", async () => {
    const { s } = strategy();
    const token = await s.acquireInitialRetryToken('');
    await expect(s.refreshRetryTokenForRetry(token, info(LIMIT, 'THROTTLING'))).rejects.toThrow(
      RetryRefusedError,
    );
  });

  it('stops at maxAttempts', () => {
    const { s } = strategy({ maxAttempts: 3 });
    let token = s.acquireTokenFor({});
    token = s.decide(token, info(THROTTLE));
    token = s.decide(token, info(THROTTLE));
    expect(token.getRetryCount()).toBe(2);
    expect(refusal(() => s.decide(token, info(THROTTLE)))).toBe('max-attempts');
  });

  it('stops when the next retry would start past maxTotalTimeMs', async () => {
    const { s, clock } = strategy({ maxTotalTimeMs: 1_000, baseDelayMs: 100 });
    const token = s.acquireTokenFor({});
    await clock.advance(950);
    expect(refusal(() => s.decide(token, info(INTERNAL)))).toBe('max-total-time');
  });

  it("stops when the retry would start past the caller's deadline, and after an abort", () => {
    const { s, clock } = strategy({ throttleBaseDelayMs: 200 });
    const late = s.acquireTokenFor({ deadline: clock.now() + 100 });
    expect(refusal(() => s.decide(late, info(THROTTLE)))).toBe('deadline');
    const aborted = s.acquireTokenFor({ signal: AbortSignal.abort() });
    expect(refusal(() => s.decide(aborted, info(THROTTLE)))).toBe('aborted');
  });

  it('spends a retry budget on transient failures and refunds it on success', () => {
    const { s } = strategy({ budget: { capacity: 20, transientCost: 10, serverErrorCost: 5 } });
    const a = s.decide(s.acquireTokenFor({}), info(RESET));
    s.decide(s.acquireTokenFor({}), info(RESET));
    expect(s.credit).toBe(0);
    expect(refusal(() => s.decide(s.acquireTokenFor({}), info(INTERNAL)))).toBe('budget');
    // Throttle retries cost nothing: the limiter paces them.
    expect(refusal(() => s.decide(s.acquireTokenFor({}), info(THROTTLE)))).toBe('retried');
    s.recordSuccess(a);
    expect(s.credit).toBe(10);
  });

  it('backs off exponentially after throttles, with its own base', () => {
    const { s } = strategy({ throttleBaseDelayMs: 50, baseDelayMs: 100, maxDelayMs: 300 });
    let token = s.acquireTokenFor({});
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      token = s.decide(token, info(THROTTLE));
      delays.push(token.getRetryDelay());
    }
    expect(delays).toEqual([50, 100, 200, 300]);
    const t = s.decide(s.acquireTokenFor({}), info(RESET));
    expect(t.getRetryDelay()).toBe(100);
  });
});

describe('ExponentialBackoff', () => {
  it('full jitter stays in [0, min(cap, base * 2^n)]', () => {
    for (const r of [0, 0.5, 0.999]) {
      let b = new ExponentialBackoff({ baseMs: 100, capMs: 1000, jitter: 'full', random: () => r });
      for (let n = 0; n < 8; n++) {
        expect(b.delayMs).toBeGreaterThanOrEqual(0);
        expect(b.delayMs).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** n));
        expect(b.delayMs).toBeCloseTo(r * Math.min(1000, 100 * 2 ** n), 6);
        b = b.next();
      }
    }
  });

  it('decorrelated jitter stays in [base, 3 x previous], capped, and next() does not mutate', () => {
    let i = 0;
    const randoms = [0.9, 0.1, 0.99, 0.5, 0.7, 0.2];
    let b = new ExponentialBackoff({
      baseMs: 100,
      capMs: 2_000,
      jitter: 'decorrelated',
      random: () => randoms[i++ % randoms.length] as number,
    });
    let previous = 100;
    for (let n = 0; n < 6; n++) {
      expect(b.delayMs).toBeGreaterThanOrEqual(100);
      expect(b.delayMs).toBeLessThanOrEqual(Math.min(2_000, Math.max(100, previous * 3)));
      previous = b.delayMs;
      const before = b.delayMs;
      const next = b.next();
      expect(b.delayMs).toBe(before);
      b = next;
    }
  });
});
