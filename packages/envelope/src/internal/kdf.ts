import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AlgorithmSuite } from '../suites.js';
import { decryptionError } from '../errors.js';

const DERIVEKEY = Buffer.from('DERIVEKEY', 'utf8');
const COMMITKEY = Buffer.from('COMMITKEY', 'utf8');
const ONE = Buffer.from([1]);
const ZERO_SALTS = { sha256: Buffer.alloc(32), sha384: Buffer.alloc(48), sha512: Buffer.alloc(64) };

/** Derived keys of one message. */
export interface DerivedKeys {
  /** The content (data encryption) key. */
  readonly key: Buffer;
  /** The key commitment (committing suites only). */
  readonly commitKey: Buffer | undefined;
}

/**
 * HKDF (RFC 5869) for outputs no longer than one hash block, which is every use here: extract once, then
 * one HMAC per output. Cheaper than two `hkdfSync` calls because the committing suites reuse the PRK for
 * both the content key and the commitment.
 */
function expand(hash: string, prk: Buffer, info: Buffer[], length: number): Buffer {
  const h = createHmac(hash, prk);
  for (const part of info) h.update(part);
  return h.update(ONE).digest().subarray(0, length);
}

/**
 * Derives the content key (and, for the committing suites, the commit key) from the plaintext data key.
 */
export function deriveKeys(suite: AlgorithmSuite, dataKey: Buffer, messageId: Buffer): DerivedKeys {
  //= aws-encryption-sdk-specification/framework/algorithm-suites.md#encryption-key-derivation-algorithm
  //# The specified KDF algorithm MUST be used to generate the encryption algorithm encryption key input.
  // Identity KDF: the data key is the content key.
  if (suite.kdfHash === undefined) return { key: Buffer.from(dataKey), commitKey: undefined };
  const hash = suite.kdfHash;
  const suiteId = Buffer.from([suite.id >> 8, suite.id & 0xff]);
  if (!suite.committing) {
    // v1 HKDF (framework/transitive-requirements.md#hkdf-encryption-key): empty salt, info = suite ID ||
    // message ID, output = the suite's key length.
    const prk = createHmac(hash, ZERO_SALTS[hash]).update(dataKey).digest();
    const key = expand(hash, prk, [suiteId, messageId], suite.keyLength);
    prk.fill(0);
    return { key, commitKey: undefined };
  }
  //= aws-encryption-sdk-specification/framework/algorithm-suites.md#commit-key-derivation-algorithm
  //# The specified KDF algorithm MUST be used to generate the commit key.
  // v2 HKDF-SHA512 (transitive-requirements.md#hkdf-commit-key): salt = the 32-byte message ID; content key
  // info = suite ID || "DERIVEKEY", commit key info = "COMMITKEY"; both 32 bytes (checked against the KATs).
  const prk = createHmac(hash, messageId).update(dataKey).digest();
  const key = expand(hash, prk, [suiteId, DERIVEKEY], suite.keyLength);
  const commitKey = expand(hash, prk, [COMMITKEY], 32);
  prk.fill(0);
  return { key, commitKey };
}

/** Compares the derived commitment with the header's, in constant time. */
export function verifyCommitment(expected: Buffer, stored: Buffer): void {
  //= aws-encryption-sdk-specification/client-apis/decrypt.md#get-the-decryption-materials
  //# The derived commit key MUST equal the commit key stored in the message header.
  if (expected.length !== stored.length || !timingSafeEqual(expected, stored)) {
    throw decryptionError(
      'key commitment does not match: the data key is not the one this message was written with',
    );
  }
}
