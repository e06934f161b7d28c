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
export { InvalidOptionError, SteadyKmsError, needs, type SteadyKmsErrorCode } from './errors.js';

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
