import { SteadyKmsError } from '@steadykms/core';

/**
 * The bytes given to decrypt are not a well-formed AWS Encryption SDK message (truncated, a field out of
 * range, an unknown suite, trailing bytes, too many data keys...). The message names the field that failed;
 * it never carries plaintext, key bytes or encryption-context values.
 */
export class MessageFormatError extends SteadyKmsError {
  declare readonly code: 'MESSAGE_FORMAT';
  constructor(message: string, options?: { cause?: unknown }) {
    super('MESSAGE_FORMAT', message, options);
  }
  /** True for a `MessageFormatError` from any copy of this package. */
  static override is(e: unknown): e is MessageFormatError {
    return SteadyKmsError.is(e) && e.code === 'MESSAGE_FORMAT';
  }
}

/**
 * A well-formed message could not be decrypted: no keyring could unwrap a data key, the key commitment,
 * header tag, a frame tag or the signature did not verify, the encryption context did not match, or the
 * commitment policy refused the suite. No plaintext is released when this is thrown (streams stop before
 * the frame that failed).
 */
export class DecryptionError extends SteadyKmsError {
  declare readonly code: 'DECRYPTION_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DECRYPTION_FAILED', message, options);
  }
  /** True for a `DecryptionError` from any copy of this package. */
  static override is(e: unknown): e is DecryptionError {
    return SteadyKmsError.is(e) && e.code === 'DECRYPTION_FAILED';
  }
}

/** @internal */
export const formatError = (message: string): MessageFormatError => new MessageFormatError(message);
/** @internal */
export const decryptionError = (message: string): DecryptionError => new DecryptionError(message);
