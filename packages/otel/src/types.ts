import type { MeterProvider, Span, TracerProvider } from '@opentelemetry/api';
import type { BillingClass, OperationEndMessage, OperationStartMessage } from '@steadykms/core';
import type { PriceOverrides } from './cost/prices.js';

/** What {@link SteadyKmsOtelOptions.startHook} receives. */
export interface StartHookInfo {
  /**
   * The message core published. It holds encryption-context values as the caller gave them: a hook that
   * copies them onto the span exports them, which the allow-list exists to prevent.
   */
  readonly message: OperationStartMessage;
}

/** What {@link SteadyKmsOtelOptions.endHook} receives. */
export interface EndHookInfo {
  readonly message: OperationEndMessage;
  /** The estimated cost of this operation's requests, USD, list price. */
  readonly costUsd: number;
}

/** Options of {@link instrumentSteadyKms}; every field is optional. */
export interface SteadyKmsOtelOptions {
  /** Where spans go. @defaultValue the global tracer provider (`trace.getTracerProvider()`) */
  readonly tracerProvider?: TracerProvider | undefined;
  /** Where metrics go. @defaultValue the global meter provider (`metrics.getMeterProvider()`) */
  readonly meterProvider?: MeterProvider | undefined;
  /**
   * Encryption-context keys whose values may be recorded on spans verbatim. Every other value is recorded
   * as a keyed hash. Allow-list only values that are not secret (a tenant id, a purpose). @defaultValue `[]`
   */
  readonly allowListedContextKeys?: readonly string[] | undefined;
  /**
   * Key of the HMAC-SHA256 that hashes encryption-context values. Share one key across a fleet to correlate
   * values across processes; keep it secret, or values can be confirmed by hashing guesses.
   * @defaultValue 32 random bytes, made once per process
   */
  readonly hashKey?: string | Uint8Array | undefined;
  /** Price overrides for the cost attribute and the cost metrics. @defaultValue {@link KMS_PRICES} */
  readonly prices?: PriceOverrides | undefined;
  /**
   * Whether metrics carry the key (`steadykms.kms.key`). Turn off when a process uses so many keys that
   * one series per key is too many. @defaultValue true
   */
  readonly metricsByKey?: boolean | undefined;
  /**
   * Called after an operation's span starts, to add attributes. Runs inside a try/catch: a throwing hook
   * is logged through `diag` and the call goes on.
   */
  readonly startHook?: ((span: Span, info: StartHookInfo) => void) | undefined;
  /** Called before an operation's span ends. Runs inside a try/catch like `startHook`. */
  readonly endHook?: ((span: Span, info: EndHookInfo) => void) | undefined;
  /**
   * Most operations tracked at once. Core always publishes an end for each start, so the bound only
   * matters if that promise breaks; past it the oldest span is ended with `steadykms.incomplete=true`.
   * @defaultValue 10,000
   */
  readonly maxOpenOperations?: number | undefined;
}

/** Requests and cache hits observed since the instrumentation was enabled; feeds {@link estimateCost}. */
export interface KmsUsage {
  /** Billable requests sent to KMS per billing class (throttled attempts excluded unless the prices bill them). */
  readonly requests: Readonly<Record<BillingClass, number>>;
  /** Operations a cache or coalescing answered, per billing class of the operation avoided. */
  readonly cacheHits: Readonly<Record<BillingClass, number>>;
  /** Throttled attempts, all classes. */
  readonly throttles: number;
  /** Seconds since counting started. */
  readonly observedSeconds: number;
}
