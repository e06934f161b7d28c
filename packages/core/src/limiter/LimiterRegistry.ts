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

  constructor(clock: Clock = systemClock, sleep: Sleep = systemSleep) {
    this.clock = clock;
    this.sleep = sleep;
  }

  /** The limiter for `key`, created on first use with `quota × share` as its ceiling. */
  limiter(key: PoolKey, quota: number, share: number, tuning?: PoolLimiterTuning): PoolLimiter {
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
