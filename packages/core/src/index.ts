// Quota model: shared by the client plugin and @steadykms/local-kms.
export {
  ASYMMETRIC_RPS,
  CONTROL_RPS,
  CRYPTO_OPERATIONS,
  CUSTOM_KEY_STORE_RPS,
  DATA_KEY_PAIR_RPS,
  DATA_KEY_PAIR_SPECS,
  KMS_OPERATIONS,
  NON_IDEMPOTENT_OPERATIONS,
  QUOTA_PROFILES,
  SYMMETRIC_RPS,
  SYMMETRIC_TIER2_REGIONS,
  SYMMETRIC_TIER3_REGIONS,
  classifyOperation,
  defaultQuota,
  familyOfKeySpec,
  isChinaRegion,
  isKnownControlOperation,
  keyIdOf,
  keyInfoFromResponse,
  resolveQuotas,
  validateQuotas,
  type BillingClass,
  type Classification,
  type KeyInfo,
  type KmsOperation,
  type QuotaCharge,
  type QuotaLookup,
  type QuotaOptions,
  type QuotaPool,
  type QuotaProfile,
  type QuotasSetting,
} from './quotas/index.js';

// Errors.
export {
  AbortedError,
  DeadlineExceededError,
  InvalidOptionError,
  KmsError,
  QuotaExceededError,
  SteadyKmsError,
  ThrottledError,
  needs,
  type OperationFacts,
  type ResponseMetadataLike,
  type SteadyKmsErrorCode,
} from './errors.js';

// The SDK plugin.
export {
  callOptionsMiddlewareOptions,
  getSteadyKmsCallPlugin,
  getSteadyKmsPlugin,
  withSteadyKms,
  type PluggableClient,
} from './plugin/getSteadyKmsPlugin.js';
export {
  resolveSteadyKmsConfig,
  type ShareSetting,
  type SteadyKmsPluginOptions,
  type SteadyKmsResolvedConfig,
} from './plugin/options.js';
export { operationMiddleware, operationMiddlewareOptions } from './plugin/operationMiddleware.js';
export { retryMiddleware, retryMiddlewareOptions } from './plugin/retryMiddleware.js';
export { limiterMiddleware, limiterMiddlewareOptions } from './plugin/limiterMiddleware.js';
export { CONTEXT_KEYS, type CallOptions } from './plugin/context.js';
export { deadlineSignal } from './plugin/deadlineSignal.js';
export { parseKmsArn, type KmsArn } from './plugin/KeyFacts.js';

// Limiter.
export {
  TokenBucket,
  type AcquireOptions,
  type Priority,
  type TokenBucketOptions,
} from './limiter/TokenBucket.js';
export {
  AdaptiveRate,
  type AdaptiveRateOptions,
  type AdaptiveRateState,
} from './limiter/AdaptiveRate.js';
export {
  PoolLimiter,
  type PoolKey,
  type PoolLimiterTuning,
  type ThrottleHold,
} from './limiter/PoolLimiter.js';
export { LimiterRegistry, processRegistry } from './limiter/LimiterRegistry.js';

// Retries.
export {
  RetryRefusedError,
  SteadyRetryStrategy,
  SteadyRetryToken,
  type OperationRetryScope,
  type RetryBudgetOptions,
  type RetryOptions,
  type RetryRefusalReason,
} from './retry/retryStrategy.js';
export {
  ExponentialBackoff,
  type BackoffOptions,
  type Jitter,
} from './retry/ExponentialBackoff.js';
export { classifyError, isAmbiguous, type ErrorClass } from './retry/classifyError.js';

// Time.
export { systemClock, systemSleep, type Clock, type Sleep } from './internal/clock.js';
export { FakeClock } from './internal/FakeClock.js';

// Diagnostics channels: names and message shapes.
export {
  CHANNEL_NAMES,
  channels,
  type AttemptEndMessage,
  type AttemptStartMessage,
  type CacheMessage,
  type CacheResult,
  type LimiterWaitMessage,
  type OperationEndMessage,
  type OperationStartMessage,
  type RateMessage,
  type RetryMessage,
  type ThrottleMessage,
} from './events/channels.js';

// Caches: data-key cache, Decrypt cache, coalescing and their SDK middleware (issue 4).
export {
  Coalescer,
  DataKeyCache,
  DecryptCache,
  MAX_MESSAGES_PER_DATA_KEY,
  cacheMiddleware,
  cacheMiddlewareOptions,
  dataKeyCacheId,
  decryptCacheKey,
  getCacheMiddleware,
  getDecryptCachePlugin,
  resolveCacheConfig,
  type CacheMiddlewareOptions,
  type CoalesceParticipant,
  type CoalescerOptions,
  type DataKey,
  type DataKeyCacheBaseOptions,
  type DataKeyCacheKey,
  type DataKeyCacheOptions,
  type DataKeyCacheStats,
  type DataKeyGetOptions,
  type DataKeyLease,
  type DataKeyLeaseSource,
  type DataKeyUsage,
  type DecryptCacheOptions,
  type DecryptCacheStats,
  type DecryptKeyInput,
  type ResolvedCacheConfig,
  type ZeroOption,
} from './cache/index.js';
