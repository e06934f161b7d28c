import { estimateCost, type CostEstimate, type CostInput } from './cost/estimateCost.js';
import { KmsTelemetry } from './internal/KmsTelemetry.js';
import type { KmsUsage, SteadyKmsOtelOptions } from './types.js';

/** What the month's projection needs beyond the observed usage. */
export type MonthlyCostOptions = Pick<CostInput, 'keys' | 'monthSeconds'>;

/** The handle {@link instrumentSteadyKms} returns. */
export interface SteadyKmsOtelHandle {
  /** True until {@link SteadyKmsOtelHandle.disable} is called. */
  readonly enabled: boolean;
  /**
   * Stops listening: unsubscribes from core's channels, ends the spans of operations in flight (marked
   * `steadykms.incomplete`) and stops reporting limiter gauges. Idempotent.
   */
  disable(): void;
  /** Requests, cache hits and throttles counted since instrumentation started. */
  usage(): KmsUsage;
  /**
   * "At this rate, this month costs...": the usage so far projected to a month with this handle's prices,
   * plus the keys you name. See {@link estimateCost}. The projection scales the window observed so far to
   * a month, so it means something once that window is representative (minutes, not milliseconds).
   */
  estimateMonthlyCost(options?: MonthlyCostOptions): CostEstimate;
}

/**
 * Turns every KMS operation that `@steadykms/core` runs into one OpenTelemetry CLIENT span named
 * `KMS.<Operation>`, KMS metrics and an estimated cost in US dollars, by subscribing to core's
 * `steadykms:*` diagnostics channels. Nothing is patched: clients without the steadykms plugin are not seen,
 * and an unobserved plugin pays nothing because core builds messages only for subscribers.
 *
 * Call it once per process; two active instrumentations record every operation twice.
 *
 * @example
 * ```ts
 * const otel = instrumentSteadyKms({ allowListedContextKeys: ['purpose'] });
 * // ... later
 * console.log(otel.estimateMonthlyCost({ keys: 3 }).totalUsd);
 * otel.disable();
 * ```
 */
export function instrumentSteadyKms(options: SteadyKmsOtelOptions = {}): SteadyKmsOtelHandle {
  const telemetry = new KmsTelemetry(options);
  telemetry.enable();
  return {
    get enabled() {
      return telemetry.enabled;
    },
    disable: () => telemetry.disable(),
    usage: () => telemetry.usage(),
    estimateMonthlyCost: (extra = {}) =>
      estimateCost({ ...telemetry.usage(), ...extra, prices: telemetry.prices }),
  };
}
