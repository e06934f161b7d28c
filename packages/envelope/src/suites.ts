/**
 * Algorithm suites of the AWS Encryption SDK message format, and commitment policies.
 *
 * The table mirrors aws-encryption-sdk-specification framework/algorithm-suites.md: every suite the ESDK
 * can still decrypt (0x0014 to 0x0578). Only 0x0478 and 0x0578 are offered for encryption.
 */

/** Numeric identifiers of the ESDK algorithm suites, as written in the message header. */
export const AlgorithmSuiteId = {
  AES128_GCM_IV12_TAG16_NO_KDF: 0x0014,
  AES192_GCM_IV12_TAG16_NO_KDF: 0x0046,
  AES256_GCM_IV12_TAG16_NO_KDF: 0x0078,
  AES128_GCM_IV12_TAG16_HKDF_SHA256: 0x0114,
  AES192_GCM_IV12_TAG16_HKDF_SHA256: 0x0146,
  AES256_GCM_IV12_TAG16_HKDF_SHA256: 0x0178,
  AES128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256: 0x0214,
  AES192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384: 0x0346,
  AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384: 0x0378,
  AES256_GCM_HKDF_SHA512_COMMIT_KEY: 0x0478,
  AES256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384: 0x0578,
} as const;

/** One of the {@link AlgorithmSuiteId} values. */
export type AlgorithmSuiteIdValue = (typeof AlgorithmSuiteId)[keyof typeof AlgorithmSuiteId];

/** The suites this package encrypts with: the two committing suites. */
export type EncryptSuiteId = 0x0478 | 0x0578;

/** Everything the format code needs to know about a suite. */
export interface AlgorithmSuite {
  readonly id: AlgorithmSuiteIdValue;
  /** Message format version the suite is written with: 1 (legacy) or 2 (committing). */
  readonly messageFormat: 1 | 2;
  /** Node cipher name, e.g. `aes-256-gcm`. */
  readonly cipher: 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm';
  /** Length of the data key and of the derived content key, in bytes. */
  readonly keyLength: 16 | 24 | 32;
  /** IV length in bytes (always 12). */
  readonly ivLength: 12;
  /** Authentication tag length in bytes (always 16). */
  readonly tagLength: 16;
  /** HKDF hash, or undefined for the identity KDF of the oldest suites. */
  readonly kdfHash: 'sha256' | 'sha384' | 'sha512' | undefined;
  /** Signature curve (Node name) and hash, when the suite signs. */
  readonly signature:
    { readonly curve: 'prime256v1' | 'secp384r1'; readonly hash: 'sha256' | 'sha384' } | undefined;
  /** True when the header carries a key commitment (suite data of 32 bytes). */
  readonly committing: boolean;
  /** Length of the header's algorithm suite data, in bytes. */
  readonly suiteDataLength: 0 | 32;
}

const P256 = { curve: 'prime256v1', hash: 'sha256' } as const;
const P384 = { curve: 'secp384r1', hash: 'sha384' } as const;

function v1(
  id: AlgorithmSuiteIdValue,
  keyLength: 16 | 24 | 32,
  kdfHash: AlgorithmSuite['kdfHash'],
  signature: AlgorithmSuite['signature'],
): AlgorithmSuite {
  return Object.freeze({
    id,
    messageFormat: 1,
    cipher: `aes-${keyLength * 8}-gcm` as AlgorithmSuite['cipher'],
    keyLength,
    ivLength: 12,
    tagLength: 16,
    kdfHash,
    signature,
    committing: false,
    suiteDataLength: 0,
  });
}
function v2(id: AlgorithmSuiteIdValue, signature: AlgorithmSuite['signature']): AlgorithmSuite {
  return Object.freeze({
    id,
    messageFormat: 2,
    cipher: 'aes-256-gcm',
    keyLength: 32,
    ivLength: 12,
    tagLength: 16,
    kdfHash: 'sha512',
    signature,
    committing: true,
    suiteDataLength: 32,
  });
}

//= aws-encryption-sdk-specification/framework/algorithm-suites.md#supported-algorithm-suites
//# The value `00 00` is reserved and MUST NOT be used as an Algorithm Suite ID in the future.
//# Algorithm Suite ID MUST be a unique hex value across all supported algorithm suites.
const SUITES: ReadonlyMap<number, AlgorithmSuite> = new Map(
  [
    v1(0x0014, 16, undefined, undefined),
    v1(0x0046, 24, undefined, undefined),
    v1(0x0078, 32, undefined, undefined),
    v1(0x0114, 16, 'sha256', undefined),
    v1(0x0146, 24, 'sha256', undefined),
    v1(0x0178, 32, 'sha256', undefined),
    v1(0x0214, 16, 'sha256', P256),
    v1(0x0346, 24, 'sha384', P384),
    v1(0x0378, 32, 'sha384', P384),
    v2(0x0478, undefined),
    v2(0x0578, P384),
  ].map((s) => [s.id, s]),
);

/** The suite with this id, or undefined when the ESDK does not define it. */
export function getSuite(id: number): AlgorithmSuite | undefined {
  return SUITES.get(id);
}

/** Every suite this package can decrypt, by id. */
export function allSuites(): AlgorithmSuite[] {
  return [...SUITES.values()];
}

/**
 * Commitment policies, as in the ESDK. They decide which suites may encrypt and which messages may be
 * decrypted.
 *
 * - `FORBID_ENCRYPT_ALLOW_DECRYPT`: the legacy behaviour; not offered for encrypt here (we only write
 *   committing suites), so encrypting under it is refused.
 * - `REQUIRE_ENCRYPT_ALLOW_DECRYPT`: encrypt with key commitment, still read old messages.
 * - `REQUIRE_ENCRYPT_REQUIRE_DECRYPT`: the default; only committing messages decrypt.
 */
export type CommitmentPolicy =
  | 'FORBID_ENCRYPT_ALLOW_DECRYPT'
  | 'REQUIRE_ENCRYPT_ALLOW_DECRYPT'
  | 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT';

/** @defaultValue `'REQUIRE_ENCRYPT_REQUIRE_DECRYPT'` */
export const DEFAULT_COMMITMENT_POLICY: CommitmentPolicy = 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT';

/** Default frame length in bytes. */
export const DEFAULT_FRAME_LENGTH = 4096;

/** @internal */
export function decryptAllowed(policy: CommitmentPolicy, suite: AlgorithmSuite): boolean {
  //= aws-encryption-sdk-specification/framework/commitment-policy.md#esdkrequire_encrypt_require_decrypt
  //# Decrypt Materials MUST only support algorithm suites that have a Key Commitment value of True
  return policy !== 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT' || suite.committing;
}
