import type { QuotaLookup, QuotaPool } from '@steadykms/core';

interface Window {
  /** Index of the current window: `floor(now / windowMs)`. */
  index: number;
  used: number;
  /** Requests this window admits. */
  capacity: number;
  /** The pool's quota in requests per second (may be fractional, or `Infinity`). */
  readonly rps: number;
  /** 1,000 ms, or `1000 / rps` for a quota under one request per second. */
  readonly windowMs: number;
}

/** One debit: `cost` requests of `pool` in `region`. */
export interface Debit {
  readonly pool: QuotaPool;
  readonly region: string;
  readonly cost: number;
}

/** Ceiling that ignores floating-point dust (`0.1 * 30` is `3.0000000000000004`). */
function ceil(x: number): number {
  return Math.ceil(x - 1e-9);
}

/**
 * Requests admitted by one-second window `index` for a quota of `rps` ≥ 1:
 * `ceil((index + 1) * rps) - ceil(index * rps)`. A whole-number quota admits exactly `rps` in every
 * window; a fractional one (a scaled quota) spreads its remainder so the long-run rate is exact:
 * 1.5 rps admits 2, 1, 2, 1...
 */
export function windowCapacity(rps: number, index: number): number {
  if (!Number.isFinite(rps)) return Number.POSITIVE_INFINITY;
  return ceil((index + 1) * rps) - ceil(index * rps);
}

/**
 * Request counters in one-second windows aligned to the clock, like KMS's: every pool in every region is
 * independent, and a call is admitted by all of its pools or debits none. A quota under one request
 * per second (0.5 and 0.1 rps in China, or any quota scaled down far enough) admits one request per
 * window of `1 / rps` seconds instead, so the first call in such a window always goes through.
 */
export class QuotaWindows {
  readonly #lookup: QuotaLookup;
  readonly #windows = new Map<string, Window>();

  constructor(lookup: QuotaLookup) {
    this.#lookup = lookup;
  }

  #window(pool: QuotaPool, region: string, now: number): Window {
    const id = `${region}\u0000${pool}`;
    let w = this.#windows.get(id);
    if (w === undefined) {
      const rps = this.#lookup(pool, region);
      const windowMs = rps >= 1 ? 1000 : 1000 / rps;
      w = { index: Number.NaN, used: 0, capacity: 0, rps, windowMs };
      this.#windows.set(id, w);
    }
    const index = Math.floor(now / w.windowMs);
    if (w.index !== index) {
      w.index = index;
      w.used = 0;
      w.capacity = w.rps >= 1 ? windowCapacity(w.rps, index) : 1;
    }
    return w;
  }

  /**
   * Admits a request that debits every charge in `debits`, or none of them: returns the first pool
   * that has no room left in its current window, or `undefined` after debiting all of them. A rejected
   * request uses no quota, so a client that backs off gets the full window afterwards.
   */
  tryAcquire(debits: readonly Debit[], now: number): Debit | undefined {
    for (const d of debits) {
      const w = this.#window(d.pool, d.region, now);
      // A charge larger than a whole window (ReplicateKey's two CreateKey under a tiny quota) still
      // goes through in a window that admits anything and has admitted nothing yet.
      const fits = w.used + d.cost <= w.capacity || (w.used === 0 && w.capacity > 0);
      if (!fits) return d;
    }
    for (const d of debits) this.#window(d.pool, d.region, now).used += d.cost;
    return undefined;
  }
}
