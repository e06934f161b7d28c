import type { Provider } from '@smithy/types';
import { InvalidOptionError } from '../errors.js';
import { systemClock, systemSleep, type Clock, type Sleep } from '../internal/clock.js';
import type { PoolLimiterTuning } from '../limiter/PoolLimiter.js';
import { processRegistry, type LimiterRegistry } from '../limiter/LimiterRegistry.js';
import type { Priority } from '../limiter/TokenBucket.js';
import { resolveQuotas, type QuotaLookup, type QuotasSetting } from '../quotas/index.js';
import { SteadyRetryStrategy, type RetryOptions } from '../retry/retryStrategy.js';
import type { CacheMiddlewareOptions } from '../cache/index.js';

/**
 * The fraction (0, 1] of a quota this process may use, overall or per pool. Per pool, a key is an exact
 * pool (`symmetric`, `control/CreateKey`), or a family (`control`, `data-key-pair`,
 * `custom-key-store`), or `default`; the most specific match wins.
 */
export type ShareSetting =
  number | { readonly default?: number; readonly [pool: string]: number | undefined };

/** Options of the steadykms SDK plugin. */
export interface SteadyKmsPluginOptions {
  /**
   * The quotas to pace to: the same shape as local-kms's (`{ profile, scale, overrides }`), or `false`
   * to pace nothing (retries, typed errors and events still apply).
   * @defaultValue the current KMS defaults
   */
  readonly quotas?: QuotasSetting;
  /**
   * The fraction of each quota this process may use: leave headroom for other consumers of the
   * account. @defaultValue `1`
   */
  readonly share?: ShareSetting;
  /**
   * The account id when no key ARN reveals it (aliases, bare key ids). Buckets are per account, so
   * clients of one account share them. @defaultValue `'default'` until an ARN is seen
   */
  readonly accountId?: string;
  /**
   * The client's region. `withSteadyKms` passes `client.config.region`; with
   * `client.middlewareStack.use(getSteadyKmsPlugin(...))` give it so `operation:start` names the region
   * (otherwise it is learned from the signing region of the first request).
   */
  readonly region?: string | Provider<string>;
  /** The lane of this client's calls. `interactive` waiters go before `batch` ones. @defaultValue `'interactive'` */
  readonly priority?: Priority;
  /**
   * A time budget per operation, milliseconds: the limiter fails fast with `DeadlineExceededError` when
   * the wait would pass it, and no retry starts past it. A per-call deadline comes from
   * `deadlineSignal(ms)` passed as `abortSignal`. @defaultValue none
   */
  readonly deadlineMs?: number;
  /** Retry settings. @defaultValue see `RetryOptions` */
  readonly retry?: RetryOptions;
  /** Limiter tuning: headroom, throttle hold, CUBIC constants. @defaultValue see `PoolLimiterTuning` */
  readonly limiter?: PoolLimiterTuning;
  /**
   * Opt-in, transparent Decrypt cache: `{ ttlMs, maxEntries }`, or a `DecryptCache` shared between
   * clients with the same credentials (a hit skips KMS's authorization). A hit sends nothing and
   * reports `cache: 'hit'` in `operation:end`. @defaultValue no Decrypt cache
   */
  readonly decryptCache?: CacheMiddlewareOptions['decryptCache'];
  /**
   * Identical concurrent Decrypt, DescribeKey and GetPublicKey calls share one request (reported as
   * `cache: 'coalesced'`). @defaultValue `false`
   */
  readonly coalesce?: boolean;
  /** Entries in the learned key-spec cache. @defaultValue `10_000` */
  readonly keySpecCacheSize?: number;
  /** Time source, milliseconds. Tests pass a fake. @defaultValue `performance`-based epoch clock */
  readonly clock?: Clock;
  /** How to wait, milliseconds; abortable. Tests pass a fake. @defaultValue `setTimeout` */
  readonly sleep?: Sleep;
  /**
   * The registry of pool limiters. @defaultValue the process-wide one for `clock` (shared by every
   * client of the same account and region)
   */
  readonly registry?: LimiterRegistry;
}

/** The plugin's options after validation and defaults. */
export interface SteadyKmsResolvedConfig {
  readonly quota: QuotaLookup;
  readonly unlimited: boolean;
  readonly share: (pool: string) => number;
  readonly accountId: string | undefined;
  readonly region: Provider<string> | undefined;
  readonly priority: Priority;
  readonly deadlineMs: number | undefined;
  readonly retryStrategy: SteadyRetryStrategy;
  readonly limiter: PoolLimiterTuning;
  readonly keySpecCacheSize: number;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly registry: LimiterRegistry;
}

function checkShare(name: string, v: unknown): void {
  if (typeof v !== 'number' || !(v > 0 && v <= 1)) {
    throw new InvalidOptionError(`${name} must be a number in (0, 1], got ${String(v)}`);
  }
}

function shareLookup(setting: ShareSetting | undefined): (pool: string) => number {
  if (setting === undefined) return () => 1;
  if (typeof setting === 'number') {
    checkShare('share', setting);
    return () => setting;
  }
  for (const [k, v] of Object.entries(setting)) if (v !== undefined) checkShare(`share['${k}']`, v);
  return (pool) => {
    const slash = pool.indexOf('/');
    return (
      setting[pool] ??
      (slash > 0 ? setting[pool.slice(0, slash)] : undefined) ??
      setting.default ??
      1
    );
  };
}

/**
 * Validates the plugin's options and fills in defaults (the SDK's `resolveXConfig` step). Throws
 * `InvalidOptionError` naming the option at fault.
 */
export function resolveSteadyKmsConfig(
  options: SteadyKmsPluginOptions = {},
): SteadyKmsResolvedConfig {
  let quota: QuotaLookup;
  try {
    quota = resolveQuotas(options.quotas);
  } catch (e) {
    throw new InvalidOptionError((e as Error).message);
  }
  const { priority = 'interactive', deadlineMs, accountId, keySpecCacheSize = 10_000 } = options;
  if (priority !== 'interactive' && priority !== 'batch') {
    throw new InvalidOptionError(
      `priority must be 'interactive' or 'batch', got ${String(priority)}`,
    );
  }
  if (deadlineMs !== undefined && !(deadlineMs > 0)) {
    throw new InvalidOptionError(`deadlineMs must be a number of milliseconds above 0`);
  }
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) {
    throw new InvalidOptionError('accountId must be 12 digits');
  }
  if (!(Number.isInteger(keySpecCacheSize) && keySpecCacheSize > 0)) {
    throw new InvalidOptionError('keySpecCacheSize must be a positive integer');
  }
  const headroom = options.limiter?.headroom;
  if (headroom !== undefined && !(headroom >= 0 && headroom < 1)) {
    throw new InvalidOptionError('limiter.headroom must be in [0, 1)');
  }
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? systemSleep;
  const region = options.region;
  return {
    quota,
    unlimited: options.quotas === false,
    share: shareLookup(options.share),
    accountId,
    region:
      region === undefined
        ? undefined
        : typeof region === 'string'
          ? () => Promise.resolve(region)
          : region,
    priority,
    deadlineMs,
    retryStrategy: new SteadyRetryStrategy(options.retry, clock),
    limiter: options.limiter ?? {},
    keySpecCacheSize,
    clock,
    sleep,
    registry:
      options.registry ??
      (options.clock === undefined ? processRegistry() : processRegistry(clock, sleep)),
  };
}
