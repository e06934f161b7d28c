import type { Classification } from '../quotas/index.js';
import type { Priority } from '../limiter/TokenBucket.js';
import type { RetryRefusalReason } from '../retry/retryStrategy.js';

/**
 * Keys steadykms reads and writes on the SDK's `HandlerExecutionContext`.
 *
 * - `operationId` (number): set by the operation middleware before anything below it runs; every event
 *   of the operation carries it. The cache middleware reads it.
 * - `cache` (`'hit' | 'miss' | 'coalesced'`): set by the cache middleware; the operation middleware
 *   reports it in `operation:end` (`'bypass'` when unset).
 * - `operation` (`OperationState`): the per-operation state the finalize-step middlewares share.
 * - `call` (`CallOptions`): per-call overrides set by `getSteadyKmsCallPlugin`.
 */
export const CONTEXT_KEYS = {
  operationId: 'steadykms.operationId',
  cache: 'steadykms.cache',
  operation: 'steadykms.operation',
  call: 'steadykms.call',
} as const;

/** Per-call overrides. */
export interface CallOptions {
  readonly priority?: Priority;
  /** Time budget of this call, milliseconds. */
  readonly deadlineMs?: number;
}

/** What one logical operation has done so far, shared by steadykms's middlewares via the context. */
export interface OperationState {
  readonly id: number;
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
  classification: Classification;
  region: string;
  /** True when the region came from configuration or the signing scope, not a guess. */
  regionKnown: boolean;
  /** The account as learned or configured; `undefined` when unknown. */
  accountId: string | undefined;
  readonly keyId: string | undefined;
  readonly priority: Priority;
  readonly signal: AbortSignal | undefined;
  readonly deadline: number | undefined;
  attempts: number;
  throttles: number;
  waitMs: number;
  retryDelayMs: number;
  refusal: RetryRefusalReason | undefined;
}

export type StateContext = Record<string, unknown>;

export function operationState(context: object): OperationState | undefined {
  return (context as StateContext)[CONTEXT_KEYS.operation] as OperationState | undefined;
}
