import { channel, type Channel } from 'node:diagnostics_channel';

/**
 * The contract between `@steadykms/core` and its subscribers (`@steadykms/otel`, user code): channel names
 * and message shapes. Messages are built only when a channel has subscribers. They never hold plaintext,
 * data keys or ciphertext; encryption-context values are present only in `OperationStartMessage` so a
 * subscriber can apply its own allow-list (otel hashes them unless allow-listed).
 *
 * Every message of one logical operation carries the same `operationId`; a publish is synchronous, so a
 * subscriber of `operation:start` runs in the caller's async context (OpenTelemetry parents correctly).
 */
export const CHANNEL_NAMES = {
  operationStart: 'steadykms:operation:start',
  operationEnd: 'steadykms:operation:end',
  attemptStart: 'steadykms:attempt:start',
  attemptEnd: 'steadykms:attempt:end',
  throttle: 'steadykms:throttle',
  retry: 'steadykms:retry',
  limiterWait: 'steadykms:limiter:wait',
  rate: 'steadykms:limiter:rate',
  cache: 'steadykms:cache',
} as const;

/** How a cache answered an operation. `bypass` when no cache applies to it. */
export type CacheResult = 'hit' | 'miss' | 'coalesced' | 'bypass';

export interface OperationStartMessage {
  readonly operationId: number;
  readonly operation: string;
  readonly region: string;
  readonly accountId: string | undefined;
  /** The primary quota pool. */
  readonly pool: string;
  readonly billing: string;
  /** The key as the caller named it: id, ARN, alias name or alias ARN. */
  readonly keyId: string | undefined;
  /** Encryption context of the request, if any. Subscribers must not export values unless allow-listed. */
  readonly encryptionContext: Readonly<Record<string, string>> | undefined;
  /** `Date.now()` at the start, milliseconds. */
  readonly startTime: number;
}

export interface OperationEndMessage {
  readonly operationId: number;
  readonly operation: string;
  readonly region: string;
  readonly accountId: string | undefined;
  readonly pool: string;
  readonly billing: string;
  readonly keyId: string | undefined;
  /** The key's ARN when a response revealed it. */
  readonly keyArn: string | undefined;
  readonly requestId: string | undefined;
  /** Requests actually sent to KMS (0 for a cache hit or a coalesced call). */
  readonly attempts: number;
  readonly throttles: number;
  /** Total time spent waiting for the limiter, milliseconds. */
  readonly waitMs: number;
  readonly durationMs: number;
  readonly cache: CacheResult;
  /** Present on failure: the error's name (e.g. `ThrottlingException`) and steadykms code if any. */
  readonly error: { readonly name: string; readonly code: string | undefined } | undefined;
}

export interface AttemptStartMessage {
  readonly operationId: number;
  readonly operation: string;
  readonly attempt: number;
  readonly pool: string;
  readonly region: string;
}

export interface AttemptEndMessage {
  readonly operationId: number;
  readonly operation: string;
  readonly attempt: number;
  readonly pool: string;
  readonly region: string;
  readonly durationMs: number;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;
  /** `ok`, `throttled`, `transient` (5xx, reset, timeout) or `error` (a client fault that is not retried). */
  readonly outcome: 'ok' | 'throttled' | 'transient' | 'error';
  readonly errorName: string | undefined;
}

export interface ThrottleMessage {
  readonly operationId: number;
  readonly operation: string;
  readonly attempt: number;
  readonly pool: string;
  readonly region: string;
  readonly accountId: string | undefined;
  /** The pool's pacing rate after the decrease, requests per second. */
  readonly rate: number;
}

export interface RetryMessage {
  readonly operationId: number;
  readonly operation: string;
  /** The attempt that failed; the retry will be `attempt + 1`. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: 'throttled' | 'transient';
}

export interface LimiterWaitMessage {
  readonly operationId: number | undefined;
  readonly pool: string;
  readonly region: string;
  readonly accountId: string | undefined;
  readonly waitMs: number;
  readonly priority: 'interactive' | 'batch';
}

export interface RateMessage {
  readonly pool: string;
  readonly region: string;
  readonly accountId: string | undefined;
  /** Current pacing rate, requests per second. */
  readonly rate: number;
  /** The configured quota times `share`, requests per second. */
  readonly ceiling: number;
  readonly quota: number;
}

export interface CacheMessage {
  readonly cache: 'data-key' | 'decrypt' | 'coalesce';
  readonly event: 'hit' | 'miss' | 'coalesced' | 'evict' | 'expire' | 'refresh';
  readonly operation: string | undefined;
  readonly operationId: number | undefined;
  readonly keyId: string | undefined;
  /** Why an entry left the cache: `maxAge`, `maxMessages`, `maxBytes`, `capacity`, `delete`. */
  readonly reason: string | undefined;
}

/** The channels, created once. `channel()` returns the same object for the same name process-wide. */
export const channels: {
  readonly operationStart: Channel;
  readonly operationEnd: Channel;
  readonly attemptStart: Channel;
  readonly attemptEnd: Channel;
  readonly throttle: Channel;
  readonly retry: Channel;
  readonly limiterWait: Channel;
  readonly rate: Channel;
  readonly cache: Channel;
} = {
  operationStart: channel(CHANNEL_NAMES.operationStart),
  operationEnd: channel(CHANNEL_NAMES.operationEnd),
  attemptStart: channel(CHANNEL_NAMES.attemptStart),
  attemptEnd: channel(CHANNEL_NAMES.attemptEnd),
  throttle: channel(CHANNEL_NAMES.throttle),
  retry: channel(CHANNEL_NAMES.retry),
  limiterWait: channel(CHANNEL_NAMES.limiterWait),
  rate: channel(CHANNEL_NAMES.rate),
  cache: channel(CHANNEL_NAMES.cache),
};
