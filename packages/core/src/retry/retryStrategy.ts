import type {
  RetryErrorInfo,
  RetryErrorType,
  RetryStrategyV2,
  RetryToken,
  StandardRetryToken,
} from '@smithy/types';
import { systemClock, type Clock } from '../internal/clock.js';
import { InvalidOptionError } from '../errors.js';
import { ExponentialBackoff, type Jitter } from './ExponentialBackoff.js';
import { classifyError, isAmbiguous, type ErrorClass } from './classifyError.js';

/** Retry budget: a token bucket of retry credit shared by every operation of one strategy. */
export interface RetryBudgetOptions {
  /** Credit when full. @defaultValue `500` */
  readonly capacity?: number;
  /** Credit a retry after a 5xx answer costs. @defaultValue `5` */
  readonly serverErrorCost?: number;
  /** Credit a retry after a timeout or reset costs. @defaultValue `10` */
  readonly transientCost?: number;
  /**
   * Credit a retry after a throttle costs. The limiter already slows the pool after a throttle and
   * paces the retry, so throttle retries cannot stampede and do not drain the budget by default.
   * @defaultValue `0`
   */
  readonly throttleCost?: number;
  /** Credit a first-try success returns. @defaultValue `1` */
  readonly successRefund?: number;
}

/** Retry settings of the plugin and of {@link SteadyRetryStrategy}. */
export interface RetryOptions {
  /** Attempts per operation including the first. @defaultValue `5` */
  readonly maxAttempts?: number;
  /**
   * No retry starts later than this after the operation began (limiter waits included), milliseconds.
   * @defaultValue `20_000`
   */
  readonly maxTotalTimeMs?: number;
  /** Backoff scale after a transient or 5xx failure, milliseconds. @defaultValue `100` */
  readonly baseDelayMs?: number;
  /**
   * Backoff scale after a throttle, milliseconds. Smaller than the SDK's 500 because the limiter has
   * already lowered the pool's rate and paces the retry itself. @defaultValue `50`
   */
  readonly throttleBaseDelayMs?: number;
  /** Largest single backoff, milliseconds. @defaultValue `5_000` */
  readonly maxDelayMs?: number;
  /** @defaultValue `'full'` */
  readonly jitter?: Jitter;
  /** The retry budget, or `false` for none. @defaultValue `{}` (the defaults above) */
  readonly budget?: RetryBudgetOptions | false;
  /** Uniform random numbers in [0, 1), for tests. @defaultValue `Math.random` */
  readonly random?: () => number;
}

/** Why a retry was refused. */
export type RetryRefusalReason =
  | 'not-retryable'
  | 'ambiguous'
  | 'max-attempts'
  | 'max-total-time'
  | 'deadline'
  | 'budget'
  | 'aborted';

/** Thrown by `refreshRetryTokenForRetry` when no retry may follow; `reason` says why. */
export class RetryRefusedError extends Error {
  readonly reason: RetryRefusalReason;
  readonly errorClass: ErrorClass;
  constructor(reason: RetryRefusalReason, errorClass: ErrorClass) {
    super(`retry refused: ${reason}`);
    this.name = 'RetryRefusedError';
    this.reason = reason;
    this.errorClass = errorClass;
  }
}

/** What the caller of one operation allows, carried by its retry tokens. */
export interface OperationRetryScope {
  /** False for non-idempotent control-plane calls: no retry after an ambiguous failure. */
  readonly idempotent?: boolean;
  /** Absolute time (the strategy's clock) after which nothing new may start. */
  readonly deadline?: number | undefined;
  /** The caller's signal; no retry once it has fired. */
  readonly signal?: AbortSignal | undefined;
}

/** A retry token of {@link SteadyRetryStrategy}: immutable; each refresh returns a new one. */
export class SteadyRetryToken implements StandardRetryToken {
  readonly retryCount: number;
  readonly delayMs: number;
  readonly cost: number | undefined;
  readonly startedAt: number;
  readonly scope: OperationRetryScope;
  readonly backoff: ExponentialBackoff | undefined;
  /** Why the last attempt failed, when it did. */
  readonly lastErrorClass: ErrorClass | undefined;

  constructor(init: {
    retryCount: number;
    delayMs: number;
    cost: number | undefined;
    startedAt: number;
    scope: OperationRetryScope;
    backoff: ExponentialBackoff | undefined;
    lastErrorClass: ErrorClass | undefined;
  }) {
    this.retryCount = init.retryCount;
    this.delayMs = init.delayMs;
    this.cost = init.cost;
    this.startedAt = init.startedAt;
    this.scope = init.scope;
    this.backoff = init.backoff;
    this.lastErrorClass = init.lastErrorClass;
  }
  getRetryCount(): number {
    return this.retryCount;
  }
  getRetryDelay(): number {
    return this.delayMs;
  }
  getRetryCost(): number | undefined {
    return this.cost;
  }
}

function errorClassOf(info: RetryErrorInfo): ErrorClass {
  if (info.error !== undefined) return classifyError(info.error);
  const byType: Record<RetryErrorType, ErrorClass> = {
    THROTTLING: 'throttled',
    TRANSIENT: 'transient',
    SERVER_ERROR: 'server',
    CLIENT_ERROR: 'client',
  };
  return byType[info.errorType];
}

function positive(name: string, value: number | undefined, integer = false): void {
  if (value === undefined) return;
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    throw new InvalidOptionError(
      `${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
    );
  }
}

/**
 * The SDK's `RetryStrategyV2` with KMS's rules (DESIGN §5): exponential backoff with full or
 * decorrelated jitter, a cap on attempts and on total time, a retry budget, no retry after the caller's
 * abort or past its deadline, never a retry of `LimitExceededException`, and no retry of a
 * non-idempotent call after an ambiguous failure (timeout, reset, 5xx), which could apply it twice.
 *
 * It decides from the error itself (not the SDK's `errorType`, which counts `LimitExceededException` as
 * throttling), does not sleep, and returns tokens that carry the delay, so whoever drives it (the
 * steadykms retry middleware, or the SDK's own if you pass this as `retryStrategy`) sleeps abortably.
 */
export class SteadyRetryStrategy implements RetryStrategyV2 {
  readonly mode = 'steadykms';
  readonly maxAttempts: number;
  readonly maxTotalTimeMs: number;
  readonly #clock: Clock;
  readonly #transientBackoff: ExponentialBackoff;
  readonly #throttleBackoff: ExponentialBackoff;
  readonly #budget: Required<RetryBudgetOptions> | undefined;
  #credit: number;

  constructor(options: RetryOptions = {}, clock: Clock = systemClock) {
    positive('retry.maxAttempts', options.maxAttempts, true);
    positive('retry.maxTotalTimeMs', options.maxTotalTimeMs);
    positive('retry.baseDelayMs', options.baseDelayMs);
    positive('retry.throttleBaseDelayMs', options.throttleBaseDelayMs);
    positive('retry.maxDelayMs', options.maxDelayMs);
    this.maxAttempts = options.maxAttempts ?? 5;
    this.maxTotalTimeMs = options.maxTotalTimeMs ?? 20_000;
    this.#clock = clock;
    const jitter = options.jitter ?? 'full';
    const capMs = options.maxDelayMs ?? 5_000;
    const random = options.random ?? Math.random;
    this.#transientBackoff = new ExponentialBackoff({
      baseMs: options.baseDelayMs ?? 100,
      capMs,
      jitter,
      random,
    });
    this.#throttleBackoff = new ExponentialBackoff({
      baseMs: options.throttleBaseDelayMs ?? 50,
      capMs,
      jitter,
      random,
    });
    this.#budget =
      options.budget === false
        ? undefined
        : {
            capacity: options.budget?.capacity ?? 500,
            serverErrorCost: options.budget?.serverErrorCost ?? 5,
            transientCost: options.budget?.transientCost ?? 10,
            throttleCost: options.budget?.throttleCost ?? 0,
            successRefund: options.budget?.successRefund ?? 1,
          };
    this.#credit = this.#budget?.capacity ?? Number.POSITIVE_INFINITY;
  }

  /** Retry credit left in the budget. */
  get credit(): number {
    return this.#credit;
  }

  /** A first token for one operation, with what its caller allows. */
  acquireTokenFor(scope: OperationRetryScope): SteadyRetryToken {
    return new SteadyRetryToken({
      retryCount: 0,
      delayMs: 0,
      cost: undefined,
      startedAt: this.#clock.now(),
      scope,
      backoff: undefined,
      lastErrorClass: undefined,
    });
  }

  acquireInitialRetryToken(_retryTokenScope: string): Promise<RetryToken> {
    return Promise.resolve(this.acquireTokenFor({}));
  }

  /**
   * Decides whether the failed attempt may be retried and after how long. Throws
   * {@link RetryRefusedError} when not.
   */
  refreshRetryTokenForRetry(
    tokenToRenew: RetryToken,
    errorInfo: RetryErrorInfo,
  ): Promise<RetryToken> {
    try {
      return Promise.resolve(this.decide(tokenToRenew, errorInfo));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** The synchronous core of `refreshRetryTokenForRetry`. */
  decide(tokenToRenew: RetryToken, errorInfo: RetryErrorInfo): SteadyRetryToken {
    const token =
      tokenToRenew instanceof SteadyRetryToken
        ? tokenToRenew
        : new SteadyRetryToken({
            retryCount: tokenToRenew.getRetryCount(),
            delayMs: 0,
            cost: undefined,
            startedAt: this.#clock.now(),
            scope: {},
            backoff: undefined,
            lastErrorClass: undefined,
          });
    const errorClass = errorClassOf(errorInfo);
    const refuse = (reason: RetryRefusalReason): never => {
      throw new RetryRefusedError(reason, errorClass);
    };
    if (token.scope.signal?.aborted || errorClass === 'aborted') refuse('aborted');
    if (errorClass === 'client' || errorClass === 'quota') refuse('not-retryable');
    if (token.scope.idempotent === false && isAmbiguous(errorClass)) refuse('ambiguous');
    if (token.retryCount + 1 >= this.maxAttempts) refuse('max-attempts');

    const throttled = errorClass === 'throttled';
    const previous = token.lastErrorClass === 'throttled' ? token.backoff : undefined;
    const backoff = throttled
      ? (previous?.next() ?? this.#throttleBackoff)
      : token.backoff !== undefined && token.lastErrorClass !== 'throttled'
        ? token.backoff.next()
        : this.#transientBackoff;
    let delayMs = backoff.delayMs;
    const now = this.#clock.now();
    if (errorInfo.retryAfterHint instanceof Date) {
      const hinted = errorInfo.retryAfterHint.getTime() - Date.now();
      delayMs = Math.max(delayMs, Math.min(hinted, delayMs + 5_000));
    }
    if (now + delayMs - token.startedAt > this.maxTotalTimeMs) refuse('max-total-time');
    if (token.scope.deadline !== undefined && now + delayMs >= token.scope.deadline) {
      refuse('deadline');
    }
    let cost = 0;
    if (this.#budget !== undefined) {
      cost = throttled
        ? this.#budget.throttleCost
        : errorClass === 'server'
          ? this.#budget.serverErrorCost
          : this.#budget.transientCost;
      if (cost > this.#credit) refuse('budget');
      this.#credit -= cost;
    }
    return new SteadyRetryToken({
      retryCount: token.retryCount + 1,
      delayMs,
      cost,
      startedAt: token.startedAt,
      scope: token.scope,
      backoff,
      lastErrorClass: errorClass,
    });
  }

  recordSuccess(token: RetryToken): void {
    if (this.#budget === undefined) return;
    const spent = token instanceof SteadyRetryToken ? token.cost : undefined;
    this.#credit = Math.min(
      this.#budget.capacity,
      this.#credit + (spent !== undefined && spent > 0 ? spent : this.#budget.successRefund),
    );
  }
}
