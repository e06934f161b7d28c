import type { QuotaLookup, QuotaPool } from '@steadykms/core';

interface Window {
  /** Index of the current window: `floor(now / windowMs)`. */
  index: number;
  used: number;
  /** Requests admitted per window. */
  readonly capacity: number;
  /** Window length in milliseconds: 1,000, or longer for quotas below one request per second. */
  readonly windowMs: number;
}

/** One debit: `cost` requests of `pool` in `region`. */
export interface Debit {
  readonly pool: QuotaPool;
  readonly region: string;
  readonly cost: number;
}

/**
 * Request counters in fixed windows aligned to the clock, like KMS's one-second windows: a pool admits
 * `floor(rps)` requests in each wall-clock second, and every pool in every region is independent.
 *
 * A quota below one request per second (RSA_4096 key pairs in China are 0.1 rps, and any quota scaled
 * down far enough) cannot be a whole number per second, so it becomes one request per window of
 * `1 / rps` seconds, which keeps the long-run rate exact.
 */
export class QuotaWindows {
  readonly #lookup: QuotaLookup;
  readonly #windows = new Map<string, Window>();

  constructor(lookup: QuotaLookup) {
    this.#lookup = lookup;
  }

  #window(pool: QuotaPool, region: string): Window {
    const id = `${region}\u0000${pool}`;
    let w = this.#windows.get(id);
    if (w === undefined) {
      const rps = this.#lookup(pool, region);
      if (!Number.isFinite(rps)) {
        w = { index: 0, used: 0, capacity: Number.POSITIVE_INFINITY, windowMs: 1000 };
      } else if (rps >= 1) {
        w = { index: 0, used: 0, capacity: Math.floor(rps), windowMs: 1000 };
      } else {
        w = { index: 0, used: 0, capacity: 1, windowMs: Math.ceil(1000 / rps) };
      }
      this.#windows.set(id, w);
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
      const w = this.#window(d.pool, d.region);
      const index = Math.floor(now / w.windowMs);
      if (index !== w.index) {
        w.index = index;
        w.used = 0;
      }
      // A charge larger than a whole window (ReplicateKey's two CreateKey under a tiny quota) still
      // goes through once per window instead of never.
      if (w.used + d.cost > w.capacity && w.used > 0) return d;
    }
    for (const d of debits) this.#window(d.pool, d.region).used += d.cost;
    return undefined;
  }

  /** Forgets every window, for a quota change at runtime. */
  clear(): void {
    this.#windows.clear();
  }
}
