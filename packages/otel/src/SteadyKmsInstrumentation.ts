import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { Instrumentation, InstrumentationConfig } from '@opentelemetry/instrumentation';
import { estimateCost, type CostEstimate } from './cost/estimateCost.js';
import type { MonthlyCostOptions } from './instrumentSteadyKms.js';
import { KmsTelemetry } from './internal/KmsTelemetry.js';
import type { KmsUsage, SteadyKmsOtelOptions } from './types.js';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from './version.js';

/** Configuration of {@link SteadyKmsInstrumentation}: the options of `instrumentSteadyKms` minus providers. */
export interface SteadyKmsInstrumentationConfig
  extends InstrumentationConfig, Omit<SteadyKmsOtelOptions, 'tracerProvider' | 'meterProvider'> {}

/**
 * The same telemetry as {@link instrumentSteadyKms}, shaped as an OpenTelemetry `Instrumentation` for
 * `registerInstrumentations({ instrumentations: [new SteadyKmsInstrumentation()] })` or the Node SDK's
 * `instrumentations` list.
 *
 * Why it implements the interface instead of extending `InstrumentationBase`: the base class exists to
 * patch modules, and merely constructing one installs a require-in-the-middle hook on every `require`.
 * This instrumentation patches nothing; `enable()` subscribes to core's diagnostics channels and
 * `disable()` unsubscribes.
 */
export class SteadyKmsInstrumentation implements Instrumentation<SteadyKmsInstrumentationConfig> {
  /** `@steadykms/otel`, the scope name of its tracer and meter. */
  readonly instrumentationName = INSTRUMENTATION_NAME;
  /** The scope version. */
  readonly instrumentationVersion = INSTRUMENTATION_VERSION;
  #config: SteadyKmsInstrumentationConfig;
  #telemetry: KmsTelemetry;
  #tracerProvider: TracerProvider | undefined;
  #meterProvider: MeterProvider | undefined;

  /** Enabled on construction unless `config.enabled` is false, as OpenTelemetry instrumentations are. */
  constructor(config: SteadyKmsInstrumentationConfig = {}) {
    this.#config = { enabled: true, ...config };
    this.#telemetry = new KmsTelemetry(this.#config);
    if (this.#config.enabled === true) this.enable();
  }

  /** Subscribes to core's `steadykms:*` channels. Idempotent. */
  enable(): void {
    this.#telemetry.enable();
  }

  /** Unsubscribes; spans of operations in flight end now, marked `steadykms.incomplete`. Idempotent. */
  disable(): void {
    this.#telemetry.disable();
  }

  /** Where spans go from now on (`registerInstrumentations` calls it). */
  setTracerProvider(tracerProvider: TracerProvider): void {
    this.#tracerProvider = tracerProvider;
    this.#telemetry.setTracerProvider(tracerProvider);
  }

  /** Where metrics go from now on: the instruments are created again on the new provider's meter. */
  setMeterProvider(meterProvider: MeterProvider): void {
    this.#meterProvider = meterProvider;
    this.#telemetry.setMeterProvider(meterProvider);
  }

  /** The configuration in force, with `enabled` filled in. */
  getConfig(): SteadyKmsInstrumentationConfig {
    return this.#config;
  }

  /**
   * Replaces the configuration. The subscriber is rebuilt with the new allow-list, hash key and prices;
   * it stays enabled if it was. Counts from {@link usage} restart.
   */
  setConfig(config: SteadyKmsInstrumentationConfig): void {
    const wasEnabled = this.#telemetry.enabled;
    const next = new KmsTelemetry({
      ...config,
      tracerProvider: this.#tracerProvider,
      meterProvider: this.#meterProvider,
    });
    this.#telemetry.disable();
    this.#config = { enabled: true, ...config };
    this.#telemetry = next;
    if (wasEnabled) next.enable();
  }

  /** Requests, cache hits and throttles counted since the last `enable()`. */
  usage(): KmsUsage {
    return this.#telemetry.usage();
  }

  /** The usage so far projected to a month with this instrumentation's prices. See `estimateCost`. */
  estimateMonthlyCost(options: MonthlyCostOptions = {}): CostEstimate {
    return estimateCost({ ...this.#telemetry.usage(), ...options, prices: this.#telemetry.prices });
  }
}
