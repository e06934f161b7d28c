// Entry points.
export {
  instrumentSteadyKms,
  type MonthlyCostOptions,
  type SteadyKmsOtelHandle,
} from './instrumentSteadyKms.js';
export {
  SteadyKmsInstrumentation,
  type SteadyKmsInstrumentationConfig,
} from './SteadyKmsInstrumentation.js';
export type { EndHookInfo, KmsUsage, StartHookInfo, SteadyKmsOtelOptions } from './types.js';
export { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from './version.js';

// Cost model.
export {
  BILLING_CLASSES,
  KMS_PRICES,
  pricePerRequest,
  resolvePrices,
  type PriceOverrides,
  type PriceTable,
} from './cost/prices.js';
export {
  MONTH_SECONDS,
  estimateCost,
  type ClassCounts,
  type CostEstimate,
  type CostInput,
  type KeyUsage,
} from './cost/estimateCost.js';

// Audit of encryption contexts.
export { ContextAuditor, HASHED_VALUE_PREFIX } from './audit/ContextAuditor.js';

// Attribute, event and metric names.
export {
  ATTR_ATTEMPT,
  ATTR_ATTEMPTS,
  ATTR_ATTEMPT_DURATION_MS,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_BILLING_CLASS,
  ATTR_CACHE_EVENT,
  ATTR_CACHE_NAME,
  ATTR_CACHE_REASON,
  ATTR_CACHE_RESULT,
  ATTR_COST_USD,
  ATTR_ENCRYPTION_CONTEXT_KEYS,
  ATTR_ENCRYPTION_CONTEXT_PREFIX,
  ATTR_ERROR_CODE,
  ATTR_INCOMPLETE,
  ATTR_KMS_KEY,
  ATTR_KMS_KEY_ALIAS,
  ATTR_KMS_KEY_ARN,
  ATTR_KMS_KEY_ID,
  ATTR_LIMITER_PRIORITY,
  ATTR_LIMITER_RATE,
  ATTR_LIMITER_WAIT_MS,
  ATTR_QUOTA_POOL,
  ATTR_RETRIES,
  ATTR_RETRY_DELAY_MS,
  ATTR_RETRY_REASON,
  ATTR_THROTTLES,
  EVENT_ATTEMPT,
  EVENT_CACHE,
  EVENT_LIMITER_WAIT,
  EVENT_RETRY,
  EVENT_THROTTLE,
  METRIC_CACHE_HITS,
  METRIC_COST,
  METRIC_COST_SAVED,
  METRIC_LIMITER_CEILING,
  METRIC_LIMITER_QUOTA,
  METRIC_LIMITER_RATE,
  METRIC_LIMITER_WAIT,
  METRIC_REQUESTS,
  METRIC_RETRIES,
  METRIC_THROTTLES,
} from './attributes.js';
export {
  ATTR_AWS_REQUEST_ID,
  ATTR_CLOUD_ACCOUNT_ID,
  ATTR_CLOUD_REGION,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  RPC_SYSTEM_VALUE_AWS_API,
} from './semconv.js';
