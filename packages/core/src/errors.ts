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
