import { systemClock, systemSleep, type Clock, type Sleep } from '../internal/clock.js';
import { PoolLimiter, type PoolKey, type PoolLimiterTuning } from './PoolLimiter.js';

/**
 * The pool limiters of a process, one per (account, region, pool): every client that targets the same
 * account and region shares them, so two `KMSClient`s in one service pace against one budget.
 */
export class LimiterRegistry {
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly #pools = new Map<string, PoolLimiter>();
  /** The account that calls of unknown account (`'default'`) in a region are charged to. */
  readonly #defaultAccount = new Map<string, string>();

  constructor(clock: Clock = systemClock, sleep: Sleep = systemSleep) {
    this.clock = clock;
    this.sleep = sleep;
  }

  /** The limiter for `key`, created on first use with `quota × share` as its ceiling. */
  limiter(key: PoolKey, quota: number, share: number, tuning?: PoolLimiterTuning): PoolLimiter {
    if (key.accountId === 'default') {
      const bound = this.#defaultAccount.get(key.region);
      if (bound !== undefined) key = { ...key, accountId: bound };
    }
    const id = `${key.accountId}\u0000${key.region}\u0000${key.pool}`;
    let limiter = this.#pools.get(id);
    if (limiter === undefined) {
      limiter = new PoolLimiter(key, quota, share, this.clock, this.sleep, tuning);
      this.#pools.set(id, limiter);
    } else {
      limiter.configure(quota, share);
    }
    return limiter;
  }

  /**
   * A response revealed the account behind calls that named keys by alias or bare id in `region`:
   * from now on they share the account's limiters, and the limiters they used so far become the
   * account's (unless it already has its own), so pacing state carries over.
   */
  bindDefaultAccount(region: string, accountId: string): boolean {
    if (this.#defaultAccount.has(region)) return false;
    this.#defaultAccount.set(region, accountId);
    const prefix = `default\u0000${region}\u0000`;
    for (const [id, limiter] of [...this.#pools]) {
      if (!id.startsWith(prefix)) continue;
      const target = `${accountId}\u0000${id.slice('default\u0000'.length)}`;
      if (!this.#pools.has(target)) {
        this.#pools.set(target, limiter);
        limiter.rekey(accountId);
      }
      this.#pools.delete(id);
    }
    return true;
  }

  /** The limiters created so far. */
  limiters(): PoolLimiter[] {
    return [...this.#pools.values()];
  }
}

const GLOBAL = Symbol.for('steadykms.limiterRegistry');
type GlobalSlot = { default?: LimiterRegistry; byClock: WeakMap<Clock, LimiterRegistry> };

/**
 * The process-wide registry for a clock. Held on `globalThis` so that two copies of this package in one
 * process still share their buckets. Clients given the same injected clock share a registry too.
 */
export function processRegistry(clock?: Clock, sleep?: Sleep): LimiterRegistry {
  const g = globalThis as unknown as Record<symbol, GlobalSlot | undefined>;
  const slot = (g[GLOBAL] ??= { byClock: new WeakMap() });
  if (clock === undefined) return (slot.default ??= new LimiterRegistry());
  let registry = slot.byClock.get(clock);
  if (registry === undefined) {
    registry = new LimiterRegistry(clock, sleep ?? systemSleep);
    slot.byClock.set(clock, registry);
  }
  return registry;
}
