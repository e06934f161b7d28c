// Caches: the data-key cache, the Decrypt cache, coalescing, and the SDK middleware that applies them.
export {
  DataKeyCache,
  MAX_MESSAGES_PER_DATA_KEY,
  type DataKey,
  type DataKeyCacheBaseOptions,
  type DataKeyCacheOptions,
  type DataKeyCacheStats,
  type DataKeyGetOptions,
  type DataKeyLease,
  type DataKeyLeaseSource,
  type DataKeyUsage,
  type ZeroOption,
} from './DataKeyCache.js';
export { DecryptCache, type DecryptCacheOptions, type DecryptCacheStats } from './DecryptCache.js';
export { Coalescer, type CoalesceParticipant, type CoalescerOptions } from './Coalescer.js';
export {
  dataKeyCacheId,
  decryptCacheKey,
  type DataKeyCacheKey,
  type DecryptKeyInput,
} from './cacheKey.js';
export {
  CACHE_RESULT_CONTEXT_KEY,
  OPERATION_ID_CONTEXT_KEY,
  cacheMiddleware,
  cacheMiddlewareOptions,
  getCacheMiddleware,
  getDecryptCachePlugin,
  resolveCacheConfig,
  type CacheMiddlewareOptions,
  type ResolvedCacheConfig,
} from './cacheMiddleware.js';
export { monotonicClock, type Clock } from './types.js';
