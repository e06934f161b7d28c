import type { Clock, Sleep } from '../internal/clock.js';
import { channels, type RateMessage } from '../events/channels.js';
import { AdaptiveRate, type AdaptiveRateOptions } from './AdaptiveRate.js';
import { TokenBucket, type AcquireOptions } from './TokenBucket.js';

/** What to do on top of lowering the rate when KMS throttles. */
export type ThrottleHold = 'window' | 'none';

/** Tuning of one pool's limiter. */
export interface PoolLimiterTuning {
  /**
   * Fraction of `quota × share` left unused so that timer and network jitter never push a one-second
   * window over the quota. @defaultValue `0.01`
   */
  readonly headroom?: number;
  /**
   * `window`: after a throttle, send nothing more in this pool until the next whole second of the
   * clock, because KMS counts in one-second windows and the rest of this one is spent; the attempts
   * that would have been throttled wait instead. `none`: only lower the rate. @defaultValue `'window'`
   */
  readonly throttleHold?: ThrottleHold;
  readonly adaptive?: Omit<AdaptiveRateOptions, 'ceiling'>;
  /** @see TokenBucketOptions.maxLagMs */
  readonly maxLagMs?: number;
}

/** Identity of a pool's limiter: one per account, region and pool in a process. */
export interface PoolKey {
  readonly accountId: string;
  readonly region: string;
  readonly pool: string;
}

/**
 * The limiter of one (account, region, pool): a paced {@link TokenBucket} whose rate is an
 * {@link AdaptiveRate} under `quota × share × (1 − headroom)`.
 */
export class PoolLimiter {
  #key: PoolKey;
  readonly #clock: Clock;
  readonly #rate: AdaptiveRate;
  readonly #bucket: TokenBucket;
  readonly #hold: ThrottleHold;
  readonly #headroom: number;
  #quota: number;
  #share: number;
  /** Throttles of attempts granted before this time were already answered by a decrease. */
  #reactedAt = Number.NEGATIVE_INFINITY;
  #lastRatePublish = Number.NEGATIVE_INFINITY;

  constructor(
    key: PoolKey,
    quota: number,
    share: number,
    clock: Clock,
    sleep: Sleep,
    tuning: PoolLimiterTuning = {},
  ) {
    this.#key = key;
    this.#clock = clock;
    this.#quota = quota;
    this.#share = share;
    this.#headroom = tuning.headroom ?? 0.01;
    this.#hold = tuning.throttleHold ?? 'window';
    this.#rate = new AdaptiveRate({ ...tuning.adaptive, ceiling: this.#pacingCeiling() });
    this.#bucket = new TokenBucket({
      clock,
      sleep,
      rate: (now) => this.#rateAt(now),
      ...(tuning.maxLagMs === undefined ? {} : { maxLagMs: tuning.maxLagMs }),
    });
  }

  #pacingCeiling(): number {
    return this.#quota * this.#share * (1 - this.#headroom);
  }

  #rateAt(now: number): number {
    const wasRecovering = this.#rate.state.kind === 'recovering';
    const r = this.#rate.rate(now);
    const recovered = this.#rate.state.kind === ('steady' as string);
    // Publish the first rate a subscriber can see (so a gauge has a value for every pool in use,
    // not only for pools a throttle lowered), then changes while recovering, at most once a second.
    if (
      channels.rate.hasSubscribers &&
      ((this.#lastRatePublish === Number.NEGATIVE_INFINITY && Number.isFinite(r)) ||
        (wasRecovering && (recovered || now - this.#lastRatePublish >= 1000)))
    ) {
      this.#publishRate(now, r);
    }
    return r;
  }

  #publishRate(now: number, rate: number): void {
    this.#lastRatePublish = now;
    const message: RateMessage = {
      pool: this.key.pool,
      region: this.key.region,
      accountId: this.key.accountId === 'default' ? undefined : this.key.accountId,
      rate,
      ceiling: this.#quota * this.#share,
      quota: this.#quota,
    };
    channels.rate.publish(message);
  }

  /** Which account, region and pool this limiter paces. */
  get key(): PoolKey {
    return this.#key;
  }

  /** @internal The registry learned the account behind `'default'`. */
  rekey(accountId: string): void {
    this.#key = { ...this.#key, accountId };
  }

  /** The configured quota, requests per second. */
  get quota(): number {
    return this.#quota;
  }

  /** `quota × share`, requests per second. */
  get ceiling(): number {
    return this.#quota * this.#share;
  }

  /** The current pacing rate, requests per second. */
  rate(): number {
    return this.#rate.rate(this.#clock.now());
  }

  /** Waiters queued. */
  get queued(): number {
    return this.#bucket.queued;
  }

  /**
   * Another client in the process shares this pool with a different quota or share: the pool paces to
   * the lower of the two, so no client's configuration is exceeded.
   */
  configure(quota: number, share: number): void {
    if (quota * share < this.#quota * this.#share) {
      this.#quota = quota;
      this.#share = share;
      this.#rate.ceiling = this.#pacingCeiling();
    }
  }

  /** Takes a send slot now if one is due and nobody waits; see `TokenBucket.tryAcquire`. */
  tryAcquire(cost = 1): boolean {
    return this.#bucket.tryAcquire(cost);
  }

  /** Waits for a send slot. Resolves with milliseconds waited. */
  acquire(options: AcquireOptions): Promise<number> {
    return this.#bucket.acquire(options);
  }

  /**
   * KMS throttled an attempt granted at `grantedAt`. With the `window` hold, pauses the pool until the
   * end of the one-second window that attempt was sent in, and lowers the rate when a throttle follows an earlier reaction within
   * two seconds (a lone throttle is jitter at the window edge, not a lower quota). Throttles of
   * attempts granted before the last reaction are echoes of the same overload and are ignored. With
   * `none`, lowers the rate at most once a second. Returns the rate now in force.
   */
  onThrottle(grantedAt: number): number {
    const now = this.#clock.now();
    if (grantedAt < this.#reactedAt) return this.#rate.rate(now);
    if (this.#hold === 'none') {
      if (now - this.#reactedAt < 1000) return this.#rate.rate(now);
      this.#reactedAt = now;
      return this.#decrease(now);
    }
    // With the window hold, a lone throttle (jitter pushed one request over a window we pace to the
    // full) costs only the rest of that window; the rate drops when the next window, paced after
    // the hold, is throttled too: the quota really is lower than we pace to.
    const confirmed = now - this.#reactedAt <= 2000;
    this.#reactedAt = now;
    // The window that is spent is the one the attempt was sent in; its answer may arrive (or be
    // processed by a busy event loop) after that window ended, and then there is nothing to hold.
    this.#bucket.holdUntil(Math.floor(grantedAt / 1000) * 1000 + 1000);
    return confirmed ? this.#decrease(now) : this.#rate.rate(now);
  }

  #decrease(now: number): number {
    const rate = this.#rate.decrease(now);
    if (channels.rate.hasSubscribers) this.#publishRate(now, rate);
    return rate;
  }
}
