/**
 * Error codes steadykms raises. Each subclass narrows `code`; callers branch on `code` or on a
 * subclass's static `is(e)`, which works across duplicated package copies (it checks a brand, not the
 * prototype chain).
 */
export type SteadyKmsErrorCode =
  | 'QUOTA_EXCEEDED'
  | 'THROTTLED'
  | 'DEADLINE_EXCEEDED'
  | 'ABORTED'
  | 'RETRIES_EXHAUSTED'
  | 'INVALID_OPTION'
  | 'KMS_ERROR'
  | 'DECRYPTION_FAILED'
  | 'MESSAGE_FORMAT'
  | 'CACHE_LIMIT'
  | 'INTERNAL';

const BRAND = Symbol.for('steadykms.error');

/** Base of every error steadykms throws. Never carries key material, plaintext or context values. */
export class SteadyKmsError extends Error {
  readonly code: SteadyKmsErrorCode;
  readonly [BRAND] = true;

  constructor(code: SteadyKmsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** True for any steadykms error, from this copy of the package or another. */
  static is(e: unknown): e is SteadyKmsError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** An option was given a value that cannot work; the message names the option. */
export class InvalidOptionError extends SteadyKmsError {
  constructor(message: string) {
    super('INVALID_OPTION', message);
  }
  static override is(e: unknown): e is InvalidOptionError {
    return SteadyKmsError.is(e) && e.code === 'INVALID_OPTION';
  }
}

/**
 * Precondition helper: throws `InvalidOptionError` (or the error `make` builds) when `condition` is false,
 * and narrows the type when it is true.
 */
export function needs(
  condition: unknown,
  message: string,
  make?: (message: string) => Error,
): asserts condition {
  if (!condition) throw make ? make(message) : new InvalidOptionError(message);
}

/** What a failed KMS operation cost before it failed. */
export interface OperationFacts {
  /** The KMS operation, e.g. `GenerateDataKey`. */
  readonly operation: string;
  /** Requests sent to KMS. */
  readonly attempts: number;
  /** Attempts KMS answered with a throttle. */
  readonly throttles: number;
  /** Time spent waiting for the local limiter, milliseconds. */
  readonly waitMs: number;
}

/** The response metadata the SDK attaches to its errors (`$metadata`), kept for compatibility. */
export interface ResponseMetadataLike {
  readonly httpStatusCode?: number | undefined;
  readonly requestId?: string | undefined;
  readonly attempts?: number | undefined;
  readonly totalRetryDelay?: number | undefined;
  readonly [key: string]: unknown;
}

function sdkShape(cause: unknown): {
  name: string | undefined;
  $metadata: ResponseMetadataLike;
  $fault: 'client' | 'server' | undefined;
} {
  const c = (typeof cause === 'object' && cause !== null ? cause : {}) as Record<string, unknown>;
  const meta = (
    typeof c['$metadata'] === 'object' && c['$metadata'] !== null ? c['$metadata'] : {}
  ) as ResponseMetadataLike;
  const fault = c['$fault'] === 'client' || c['$fault'] === 'server' ? c['$fault'] : undefined;
  return {
    name: typeof c['name'] === 'string' ? c['name'] : undefined,
    $metadata: meta,
    $fault: fault,
  };
}

/** The shape id of a modelled SDK error's class (`com.amazonaws.kms#NotFoundException`), if any. */
function modelledShapeId(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined;
  const ctor = (cause as { constructor?: unknown }).constructor;
  if (typeof ctor !== 'function' || !Object.prototype.hasOwnProperty.call(ctor, 'shapeId')) {
    return undefined;
  }
  const id = (ctor as { shapeId?: unknown }).shapeId;
  return typeof id === 'string' && !id.startsWith('smithy.ts.sdk.synthetic.') ? id : undefined;
}

const compatClasses = new Map<string, object>();

/**
 * A prototype under `target` whose constructor carries the SDK error's shape id, so that
 * `e instanceof NotFoundException` holds for the wrapping error as it did for the SDK's.
 */
function compatPrototype(
  target: abstract new (...args: never[]) => object,
  shapeId: string,
): object {
  const key = `${target.name}\u0000${shapeId}`;
  let proto = compatClasses.get(key);
  if (proto === undefined) {
    const ctor = { [target.name]: function () {} }[target.name] as unknown as { prototype: object };
    Object.defineProperty(ctor, 'shapeId', { value: shapeId });
    proto = Object.create(target.prototype as object, {
      constructor: { value: ctor, writable: true, configurable: true },
    }) as object;
    ctor.prototype = proto;
    compatClasses.set(key, proto);
  }
  return proto;
}

/**
 * An error KMS returned (or a transport failure) after steadykms's retries, wrapping the SDK's error as
 * `cause`.
 *
 * For call-site compatibility it keeps the SDK error's `name` (e.g. `NotFoundException`), `$fault` and
 * `$metadata` (with `attempts` and `totalRetryDelay`), so `e.name === 'NotFoundException'` and the SDK's
 * own `e instanceof NotFoundException` (which matches by name) keep working.
 */
export class KmsError extends SteadyKmsError {
  /**
   * Matches the SDK's `KMSServiceException` in its `instanceof` check (smithy's `ServiceException`
   * compares shape ids along the prototype chain), so `e instanceof KMSServiceException` holds.
   */
  static readonly shapeId = 'smithy.ts.sdk.synthetic.com.amazonaws.kms#KMSServiceException';
  readonly operation: string;
  readonly attempts: number;
  readonly throttles: number;
  readonly waitMs: number;
  readonly $metadata: ResponseMetadataLike;
  readonly $fault: 'client' | 'server' | undefined;

  constructor(
    facts: OperationFacts,
    cause: unknown,
    message?: string,
    code: SteadyKmsErrorCode = 'KMS_ERROR',
  ) {
    const shape = sdkShape(cause);
    const text =
      message ?? (cause instanceof Error ? cause.message : `KMS ${facts.operation} failed`);
    super(code, text, { cause });
    this.operation = facts.operation;
    this.attempts = facts.attempts;
    this.throttles = facts.throttles;
    this.waitMs = facts.waitMs;
    this.$metadata = { ...shape.$metadata, attempts: facts.attempts };
    this.$fault = shape.$fault;
    if (shape.name !== undefined && shape.name !== 'Error') this.name = shape.name;
    const modelled = modelledShapeId(cause);
    if (modelled !== undefined) Object.setPrototypeOf(this, compatPrototype(new.target, modelled));
  }

  static override is(e: unknown): e is KmsError {
    return (
      SteadyKmsError.is(e) &&
      (e.code === 'KMS_ERROR' || e.code === 'THROTTLED' || e.code === 'QUOTA_EXCEEDED')
    );
  }
}

/**
 * KMS kept throttling until retries ran out (attempts, total time, retry budget or the caller's
 * deadline). The message says how many attempts were made and how long was spent waiting; `name` stays
 * `ThrottlingException`.
 */
export class ThrottledError extends KmsError {
  declare readonly code: 'THROTTLED';
  constructor(facts: OperationFacts, cause: unknown, why: string) {
    super(
      facts,
      cause,
      `KMS throttled ${facts.operation} on ${facts.throttles} of ${facts.attempts} attempts ` +
        `(${Math.round(facts.waitMs)} ms waiting for the local limiter); ${why}`,
      'THROTTLED',
    );
  }
  static override is(e: unknown): e is ThrottledError {
    return SteadyKmsError.is(e) && e.code === 'THROTTLED';
  }
}

/**
 * KMS refused with `LimitExceededException`: a resource quota (keys, grants, aliases per key) is full.
 * It is not a rate, so it is never retried; `name` stays `LimitExceededException`.
 */
export class QuotaExceededError extends KmsError {
  declare readonly code: 'QUOTA_EXCEEDED';
  constructor(facts: OperationFacts, cause: unknown) {
    super(facts, cause, undefined, 'QUOTA_EXCEEDED');
  }
  static override is(e: unknown): e is QuotaExceededError {
    return SteadyKmsError.is(e) && e.code === 'QUOTA_EXCEEDED';
  }
}

/**
 * The call could not finish before the caller's deadline: the limiter's wait would pass it (raised
 * before waiting, so the caller can shed load at once), or a retry would.
 */
export class DeadlineExceededError extends SteadyKmsError {
  declare readonly code: 'DEADLINE_EXCEEDED';
  /** How long the caller would have had to wait for a send slot, milliseconds, when known. */
  readonly wouldWaitMs: number | undefined;
  constructor(message: string, wouldWaitMs?: number, options?: { cause?: unknown }) {
    super('DEADLINE_EXCEEDED', message, options);
    this.wouldWaitMs = wouldWaitMs;
  }
  static override is(e: unknown): e is DeadlineExceededError {
    return SteadyKmsError.is(e) && e.code === 'DEADLINE_EXCEEDED';
  }
}

/**
 * The caller's `abortSignal` fired; `cause` is the signal's reason. `name` is `AbortError`, as the SDK
 * names its own abort errors.
 */
export class AbortedError extends SteadyKmsError {
  declare readonly code: 'ABORTED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ABORTED', message, options);
    this.name = 'AbortError';
  }
  static override is(e: unknown): e is AbortedError {
    return SteadyKmsError.is(e) && e.code === 'ABORTED';
  }
}
