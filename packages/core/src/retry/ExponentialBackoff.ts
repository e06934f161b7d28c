/**
 * How a backoff spreads retries. `full`: uniform in [0, min(cap, base × 2^n)] (AWS's "full jitter").
 * `decorrelated`: uniform in [base, 3 × previous delay], capped, which keeps delays from collapsing to
 * zero while still spreading them. `none`: exactly min(cap, base × 2^n), for tests.
 */
export type Jitter = 'full' | 'decorrelated' | 'none';

/** Options of {@link ExponentialBackoff}. */
export interface BackoffOptions {
  /** First delay's scale, milliseconds. */
  readonly baseMs: number;
  /** Largest delay, milliseconds. */
  readonly capMs: number;
  readonly jitter: Jitter;
  /** A source of uniform numbers in [0, 1). @defaultValue `Math.random` */
  readonly random?: () => number;
}

/**
 * An immutable exponential backoff: `delayMs` is this step's delay and `next()` returns the following
 * step, so one schedule can be shared and each retry token carries its own position.
 */
export class ExponentialBackoff {
  readonly options: BackoffOptions;
  /** Zero-based retry index this delay belongs to. */
  readonly step: number;
  /** This step's delay, milliseconds. */
  readonly delayMs: number;

  constructor(options: BackoffOptions, step = 0, previousMs?: number) {
    this.options = options;
    this.step = step;
    this.delayMs = ExponentialBackoff.#compute(options, step, previousMs ?? options.baseMs);
  }

  static #compute(o: BackoffOptions, step: number, previousMs: number): number {
    const random = o.random ?? Math.random;
    const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(step, 30));
    switch (o.jitter) {
      case 'none':
        return ceiling;
      case 'full':
        return random() * ceiling;
      case 'decorrelated': {
        const high = Math.max(o.baseMs, previousMs * 3);
        return Math.min(o.capMs, o.baseMs + random() * (high - o.baseMs));
      }
    }
  }

  /** The next step's backoff. */
  next(): ExponentialBackoff {
    return new ExponentialBackoff(this.options, this.step + 1, this.delayMs);
  }
}
