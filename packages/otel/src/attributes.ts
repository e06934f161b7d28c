/*
 * Attributes, span events and metric names that belong to steadykms. They live under the `steadykms.`
 * namespace because OpenTelemetry reserves the names its semantic conventions define (there is no
 * `aws.kms.*` convention yet) and a vendor prefix cannot collide with a future one.
 */

/** The key as the caller named it: key id, key ARN, alias name or alias ARN. */
export const ATTR_KMS_KEY_ID = 'steadykms.kms.key_id' as const;
/** The key's ARN, when a response revealed it. */
export const ATTR_KMS_KEY_ARN = 'steadykms.kms.key_arn' as const;
/** The alias the caller used (`alias/name` or an alias ARN), when it used one. */
export const ATTR_KMS_KEY_ALIAS = 'steadykms.kms.key_alias' as const;
/**
 * The key on metrics: the ARN when known at the end of the operation, else the key as named. One
 * attribute rather than two keeps the series count at one per key and name.
 */
export const ATTR_KMS_KEY = 'steadykms.kms.key' as const;
/** The primary quota pool the operation debits: `symmetric`, `rsa`, `control/CreateKey`, ... */
export const ATTR_QUOTA_POOL = 'steadykms.quota.pool' as const;
/** How the price list bills the request: `standard`, `asymmetric`, `ecc-data-key-pair`, `rsa-data-key-pair`. */
export const ATTR_BILLING_CLASS = 'steadykms.billing.class' as const;
/** Requests sent to KMS for this operation, retries included (0 for a cache hit or a coalesced call). */
export const ATTR_ATTEMPTS = 'steadykms.attempts' as const;
/** Attempts KMS answered with a `ThrottlingException`. */
export const ATTR_THROTTLES = 'steadykms.throttles' as const;
/** Retries: attempts after the first. */
export const ATTR_RETRIES = 'steadykms.retries' as const;
/** Total time the operation waited for the rate limiter, in milliseconds. */
export const ATTR_LIMITER_WAIT_MS = 'steadykms.limiter.wait_ms' as const;
/** How a cache answered: `hit`, `miss`, `coalesced` or `bypass`. */
export const ATTR_CACHE_RESULT = 'steadykms.cache.result' as const;
/** Which cache a cache event came from: `decrypt`, `data-key` or `coalesce`. */
export const ATTR_CACHE_NAME = 'steadykms.cache.name' as const;
/** What the cache did: `hit`, `miss`, `coalesced`, `evict`, `expire`, `refresh`. */
export const ATTR_CACHE_EVENT = 'steadykms.cache.event' as const;
/** Why an entry left a cache (`maxAge`, `maxMessages`, `maxBytes`, `capacity`, `delete`). */
export const ATTR_CACHE_REASON = 'steadykms.cache.reason' as const;
/** Estimated list-price cost of the requests this operation sent, in US dollars (free tier not applied). */
export const ATTR_COST_USD = 'steadykms.cost.usd' as const;
/** The steadykms error code, when a `SteadyKmsError` ended the operation. */
export const ATTR_ERROR_CODE = 'steadykms.error.code' as const;
/** Sorted list of the encryption-context keys of the request. Keys are recorded; values are not, unless allow-listed. */
export const ATTR_ENCRYPTION_CONTEXT_KEYS = 'steadykms.encryption_context.keys' as const;
/**
 * Prefix of one attribute per encryption-context key: `steadykms.encryption_context.<key>` holds the value
 * when the key is allow-listed, else `hmac-sha256:<32 hex digits>`, a keyed hash that lets equal values be
 * correlated without revealing them.
 */
export const ATTR_ENCRYPTION_CONTEXT_PREFIX = 'steadykms.encryption_context.' as const;
/** Set on a span that was ended because the instrumentation was disabled or its table of open operations overflowed. */
export const ATTR_INCOMPLETE = 'steadykms.incomplete' as const;

/** On events: the attempt number, from 1. */
export const ATTR_ATTEMPT = 'steadykms.attempt' as const;
/** On `steadykms.attempt` events: `ok`, `throttled`, `transient` or `error`. */
export const ATTR_ATTEMPT_OUTCOME = 'steadykms.attempt.outcome' as const;
/**
 * On `steadykms.attempt` events: how long the attempt took, in milliseconds. Also on the span itself when
 * the operation's only attempt succeeded, which then has no event (see `EVENT_ATTEMPT`).
 */
export const ATTR_ATTEMPT_DURATION_MS = 'steadykms.attempt.duration_ms' as const;
/** On `steadykms.throttle` events: the pool's pacing rate after the decrease, requests per second. */
export const ATTR_LIMITER_RATE = 'steadykms.limiter.rate' as const;
/** On `steadykms.retry` events: the backoff before the next attempt, in milliseconds. */
export const ATTR_RETRY_DELAY_MS = 'steadykms.retry.delay_ms' as const;
/** On `steadykms.retry` events: `throttled` or `transient`. */
export const ATTR_RETRY_REASON = 'steadykms.retry.reason' as const;
/** On limiter-wait events and metrics: `interactive` or `batch`. */
export const ATTR_LIMITER_PRIORITY = 'steadykms.limiter.priority' as const;

/**
 * Span event: one request sent to KMS, added when it completes. Not added for an operation whose first and
 * only attempt succeeded: that attempt is summarised on the span (`http.response.status_code`,
 * `steadykms.attempt.duration_ms`), because the event would cost a per-call allocation for no information.
 */
export const EVENT_ATTEMPT = 'steadykms.attempt' as const;
/** Span event: KMS throttled an attempt. */
export const EVENT_THROTTLE = 'steadykms.throttle' as const;
/** Span event: the operation will retry after a backoff. */
export const EVENT_RETRY = 'steadykms.retry' as const;
/** Span event: the limiter made an attempt wait (only waits longer than zero). */
export const EVENT_LIMITER_WAIT = 'steadykms.limiter.wait' as const;
/** Span event: a cache answered or changed for this operation. */
export const EVENT_CACHE = 'steadykms.cache' as const;

/** Counter of requests sent to KMS (attempts, retries included), `{request}`. */
export const METRIC_REQUESTS = 'steadykms.kms.requests' as const;
/** Counter of attempts KMS throttled, `{request}`. */
export const METRIC_THROTTLES = 'steadykms.kms.throttles' as const;
/** Counter of retries, `{request}`. */
export const METRIC_RETRIES = 'steadykms.kms.retries' as const;
/** Counter of operations a cache answered without calling KMS (hits and coalesced calls), `{operation}`. */
export const METRIC_CACHE_HITS = 'steadykms.cache.hits' as const;
/** Counter of estimated spend on KMS requests, `USD`. */
export const METRIC_COST = 'steadykms.kms.cost' as const;
/** Counter of estimated spend avoided by caches and coalescing, `USD`. */
export const METRIC_COST_SAVED = 'steadykms.kms.cost.saved' as const;
/** Histogram of time spent waiting for the rate limiter per acquisition, seconds. */
export const METRIC_LIMITER_WAIT = 'steadykms.limiter.wait' as const;
/** Observable gauge of each pool's current pacing rate, `{request}/s`. */
export const METRIC_LIMITER_RATE = 'steadykms.limiter.rate' as const;
/** Observable gauge of each pool's ceiling (quota times share), `{request}/s`. */
export const METRIC_LIMITER_CEILING = 'steadykms.limiter.ceiling' as const;
/** Observable gauge of each pool's configured quota, `{request}/s`. */
export const METRIC_LIMITER_QUOTA = 'steadykms.limiter.quota' as const;
