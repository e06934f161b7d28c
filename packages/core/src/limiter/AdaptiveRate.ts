/** Options of {@link AdaptiveRate}. */
export interface AdaptiveRateOptions {
  /** The rate never goes above this, requests per second (quota × share × (1 − headroom)). */
  readonly ceiling: number;
  /** Multiplicative decrease on a throttle: the new rate is `beta ×` the old. @defaultValue `0.7` */
  readonly beta?: number;
  /**
   * CUBIC's scaling constant, in requests per second per second cubed: how fast the climb runs. With
   * the default, a pool at 200 rps is back at its pre-throttle rate about 5.3 s after a decrease.
   * @defaultValue `0.4`
   */
  readonly cubicC?: number;
  /** The rate never goes below this fraction of the ceiling. @defaultValue `0.02` */
  readonly floorFraction?: number;
}

/** The state of an adaptive rate: at its ceiling, or recovering after a decrease. */
export type AdaptiveRateState =
  | { readonly kind: 'steady' }
  | {
      readonly kind: 'recovering';
      /** When the last decrease happened (clock milliseconds). */
      readonly since: number;
      /** The rate just before the decrease, requests per second. */
      readonly wMax: number;
      /** Seconds the cubic takes to climb back to `wMax`. */
      readonly k: number;
    };

/**
 * The pacing rate of one pool: multiplicative decrease on a throttle, then a CUBIC climb (as TCP CUBIC
 * and the SDK's adaptive mode do): fast at first, flat near the rate that last drew a throttle, then
 * probing above it up to the ceiling. When the real quota is lower than configured (another consumer
 * shares the account), the rate settles just under the real one: each probe above it draws one throttle
 * and a decrease.
 */
export class AdaptiveRate {
  #ceiling: number;
  readonly #beta: number;
  readonly #c: number;
  readonly #floorFraction: number;
  #state: AdaptiveRateState = { kind: 'steady' };

  constructor(options: AdaptiveRateOptions) {
    this.#ceiling = options.ceiling;
    this.#beta = options.beta ?? 0.7;
    this.#c = options.cubicC ?? 0.4;
    this.#floorFraction = options.floorFraction ?? 0.02;
  }

  get ceiling(): number {
    return this.#ceiling;
  }

  set ceiling(value: number) {
    this.#ceiling = value;
  }

  get state(): AdaptiveRateState {
    return this.#state;
  }

  /** The rate at `now`, requests per second. */
  rate(now: number): number {
    const s = this.#state;
    if (s.kind === 'steady') return this.#ceiling;
    const t = Math.max(0, now - s.since) / 1000;
    const r = this.#c * (t - s.k) ** 3 + s.wMax;
    if (r >= this.#ceiling) {
      this.#state = { kind: 'steady' };
      return this.#ceiling;
    }
    return Math.max(this.#ceiling * this.#floorFraction, r);
  }

  /** Lowers the rate after a throttle at `now`; returns the new rate. */
  decrease(now: number): number {
    const wMax = this.rate(now);
    const k = Math.cbrt((wMax * (1 - this.#beta)) / this.#c);
    this.#state = { kind: 'recovering', since: now, wMax, k };
    return this.rate(now);
  }
}
