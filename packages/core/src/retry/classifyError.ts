/**
 * What an error means for retrying, from the wire facts in DESIGN §5.
 *
 * - `throttled`: KMS's `ThrottlingException` (a definite rejection: the request did nothing), also the
 *   `Rate exceeded` message and namespaced `__type` other AWS services send, HTTP 429.
 * - `quota`: KMS's `LimitExceededException`, a resource quota (keys, grants, aliases) that retrying
 *   cannot fix. The SDK treats it as throttling; we do not retry it.
 * - `transient`: the connection failed or timed out; the request may or may not have reached KMS.
 * - `unsent`: the connection was refused or the host not found; the request never reached KMS.
 * - `server`: HTTP 5xx (`KMSInternalException`, `KeyUnavailableException`,
 *   `DependencyTimeoutException`); the request may have taken effect.
 * - `aborted`: the caller's signal or deadline ended the call.
 * - `client`: anything else (a 4xx fault of the request); not retried.
 */
export type ErrorClass =
  'throttled' | 'quota' | 'transient' | 'unsent' | 'server' | 'aborted' | 'client';

const THROTTLE_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);
const UNSENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/** `com.amazonaws.kms#ThrottlingException:http://...` -> `ThrottlingException`. */
export function bareErrorName(name: string): string {
  const hash = name.lastIndexOf('#');
  const afterHash = hash >= 0 ? name.slice(hash + 1) : name;
  const colon = afterHash.indexOf(':');
  return colon >= 0 ? afterHash.slice(0, colon) : afterHash;
}

function field(e: object, key: string): unknown {
  return (e as Record<string, unknown>)[key];
}

/** Classifies an error for the retry decision. Looks through up to three levels of `cause`. */
export function classifyError(error: unknown, depth = 0): ErrorClass {
  if (typeof error !== 'object' || error === null) return 'client';
  const rawName = field(error, 'name');
  const name = typeof rawName === 'string' ? bareErrorName(rawName) : '';
  const code = field(error, 'code');
  if (name === 'AbortError' || code === 'ABORTED' || code === 'DEADLINE_EXCEEDED') return 'aborted';
  if (name === 'LimitExceededException' || code === 'QUOTA_EXCEEDED') return 'quota';
  const message = field(error, 'message');
  const meta = field(error, '$metadata') as { httpStatusCode?: unknown } | undefined;
  const status = typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
  const retryable = field(error, '$retryable') as { throttling?: unknown } | undefined;
  if (
    THROTTLE_NAMES.has(name) ||
    code === 'THROTTLED' ||
    status === 429 ||
    retryable?.throttling === true ||
    (typeof message === 'string' && /^rate exceeded/i.test(message))
  ) {
    return 'throttled';
  }
  if (typeof code === 'string' && UNSENT_CODES.has(code)) return 'unsent';
  if ((typeof code === 'string' && TRANSIENT_CODES.has(code)) || TRANSIENT_NAMES.has(name)) {
    return 'transient';
  }
  if (status !== undefined && status >= 500) return 'server';
  if (status === undefined && field(error, '$fault') === 'server') return 'server';
  const cause = field(error, 'cause');
  if (cause !== undefined && depth < 3) {
    const inner = classifyError(cause, depth + 1);
    if (inner !== 'client') return inner;
  }
  // A response that never parsed (socket hang up, truncated body) has no status: treat as transient.
  if (status === undefined && field(error, '$fault') === undefined && name === 'Error') {
    return typeof message === 'string' && /socket hang up|ECONNRESET|premature close/i.test(message)
      ? 'transient'
      : 'client';
  }
  return 'client';
}

/** True when a failed attempt may still have taken effect at KMS. */
export function isAmbiguous(errorClass: ErrorClass): boolean {
  return errorClass === 'transient' || errorClass === 'server';
}
