/** Counters for one operation, pool or region. */
export interface Counts {
  /** Requests admitted past the quota and fault injection (including those answered with a KMS error). */
  accepted: number;
  /** Requests answered with `ThrottlingException`. */
  throttled: number;
  /** Requests answered with an injected fault (500, 503 or a reset connection). */
  faulted: number;
  /** Accepted requests answered with a KMS error (validation, not found, wrong state...). */
  errors: number;
}

/** What the server saw, by operation, by quota pool and by region. */
export interface LocalKmsStats {
  readonly total: Counts;
  readonly byOperation: Readonly<Record<string, Counts>>;
  /** Keyed by pool name as in `@steadykms/core` (`symmetric`, `control/CreateKey`...), all regions. */
  readonly byPool: Readonly<Record<string, Counts>>;
  readonly byRegion: Readonly<Record<string, Counts>>;
  /** Keyed by `<region>/<pool>`, e.g. `us-east-1/symmetric`. */
  readonly byRegionPool: Readonly<Record<string, Counts>>;
}

/** Which counter a request lands in. */
export type Outcome = 'accepted' | 'throttled' | 'faulted' | 'error';

const zero = (): Counts => ({ accepted: 0, throttled: 0, faulted: 0, errors: 0 });

function bump(map: Map<string, Counts>, key: string, outcome: Outcome): void {
  let c = map.get(key);
  if (c === undefined) {
    c = zero();
    map.set(key, c);
  }
  add(c, outcome);
}

function add(c: Counts, outcome: Outcome): void {
  if (outcome === 'accepted') c.accepted++;
  else if (outcome === 'throttled') c.throttled++;
  else if (outcome === 'faulted') c.faulted++;
  else {
    c.accepted++;
    c.errors++;
  }
}

/** Mutable counters behind `stats()`. */
export class StatsRecorder {
  #total = zero();
  #byOperation = new Map<string, Counts>();
  #byPool = new Map<string, Counts>();
  #byRegion = new Map<string, Counts>();
  #byRegionPool = new Map<string, Counts>();
  /**
   * The same counters as `#byRegionPool`, found by region then pool, so a request builds no
   * `<region>/<pool>` string; `#byRegionPool` keeps the order they first appeared in.
   */
  #regionPools = new Map<string, Map<string, Counts>>();

  record(
    operation: string,
    region: string,
    pools: readonly { readonly pool: string; readonly region: string }[],
    outcome: Outcome,
  ): void {
    add(this.#total, outcome);
    bump(this.#byOperation, operation, outcome);
    bump(this.#byRegion, region, outcome);
    for (let i = 0; i < pools.length; i++) {
      const p = pools[i]!;
      bump(this.#byPool, p.pool, outcome);
      let inRegion = this.#regionPools.get(p.region);
      if (inRegion === undefined) {
        inRegion = new Map();
        this.#regionPools.set(p.region, inRegion);
      }
      let c = inRegion.get(p.pool);
      if (c === undefined) {
        // Another (region, pool) pair may spell the same key ('a/b' + 'c', 'a' + 'b/c'): share it.
        const key = `${p.region}/${p.pool}`;
        c = this.#byRegionPool.get(key);
        if (c === undefined) {
          c = zero();
          this.#byRegionPool.set(key, c);
        }
        inRegion.set(p.pool, c);
      }
      add(c, outcome);
    }
  }

  snapshot(): LocalKmsStats {
    const copy = (m: Map<string, Counts>): Record<string, Counts> =>
      Object.fromEntries([...m].map(([k, v]) => [k, { ...v }]));
    return {
      total: { ...this.#total },
      byOperation: copy(this.#byOperation),
      byPool: copy(this.#byPool),
      byRegion: copy(this.#byRegion),
      byRegionPool: copy(this.#byRegionPool),
    };
  }

  reset(): void {
    this.#total = zero();
    this.#byOperation.clear();
    this.#byPool.clear();
    this.#byRegion.clear();
    this.#byRegionPool.clear();
    this.#regionPools.clear();
  }
}
