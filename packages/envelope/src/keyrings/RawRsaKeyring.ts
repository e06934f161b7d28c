import {
  constants,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { needs } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import { decryptionError } from '../errors.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './types.js';

/** RSA padding schemes the ESDK's raw RSA keyring supports. */
export type RsaPadding = 'pkcs1' | 'oaep-sha1' | 'oaep-sha256' | 'oaep-sha384' | 'oaep-sha512';

/**
 * Options of {@link RawRsaKeyring}. At least one of the keys is required; the keyring never derives one
 * from the other, so give the public key to encrypt and the private key to decrypt.
 */
export interface RawRsaKeyringOptions {
  /** Key namespace, written as the EDK's key provider ID. Must not be or start with `aws-kms`. */
  readonly keyNamespace: string;
  /** Key name, written as the EDK's key provider information. */
  readonly keyName: string;
  readonly padding: RsaPadding;
  /** PEM (SPKI) or KeyObject; without it `onEncrypt` fails. */
  readonly publicKey?: string | KeyObject;
  /** PEM (PKCS#8) or KeyObject; without it `onDecrypt` fails. */
  readonly privateKey?: string | KeyObject;
}

const OAEP_HASHES: readonly string[] = ['sha1', 'sha256', 'sha384', 'sha512'];

/**
 * Raw RSA keyring, byte-compatible with the ESDK's: the data key is RSA-encrypted with the given padding
 * (OAEP uses the same hash for MGF1 and an empty label); the key provider information is the key name.
 *
 * A keyring given only a private key can only decrypt: the ESDK specification forbids deriving the public
 * key from it, so that a decrypt-only configuration cannot silently start encrypting.
 *
 * PKCS#1 v1.5 decryption is refused by Node.js 20.20+ (CVE-2023-46809) unless Node runs with
 * `--security-revert=CVE-2023-46809`; this keyring does not work around it.
 */
export class RawRsaKeyring implements Keyring {
  readonly keyNamespace: string;
  readonly keyName: string;
  readonly padding: RsaPadding;
  readonly #publicKey: KeyObject | undefined;
  readonly #privateKey: KeyObject | undefined;
  readonly #nameBytes: Buffer;
  readonly #pad: { padding: number; oaepHash?: string };

  constructor(options: RawRsaKeyringOptions) {
    const { keyNamespace, keyName, padding, publicKey, privateKey } = options;
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#initialization
    //# On keyring initialization,
    //# the caller MUST provide the following:
    //# - Key Namespace
    //# - Key Name
    //# - Padding Scheme
    //# - Public Key and/or Private Key
    needs(
      typeof keyNamespace === 'string' && keyNamespace.length > 0,
      'RawRsaKeyring: keyNamespace is required',
    );
    needs(typeof keyName === 'string' && keyName.length > 0, 'RawRsaKeyring: keyName is required');
    needs(
      publicKey !== undefined || privateKey !== undefined,
      'RawRsaKeyring: publicKey or privateKey is required',
    );
    //= aws-encryption-sdk-specification/framework/keyring-interface.md#key-provider-id
    //# This value MUST NOT be or start with "aws-kms"
    //# unless this encrypted data key was produced by one of the AWS KMS Keyrings.
    needs(
      !keyNamespace.startsWith('aws-kms'),
      'RawRsaKeyring: keyNamespace must not be or start with "aws-kms"',
    );
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#supported-padding-schemes
    //# This keyring MUST NOT use a padding scheme outside those defined above.
    const hash = typeof padding === 'string' ? padding.slice('oaep-'.length) : '';
    needs(
      padding === 'pkcs1' ||
        (typeof padding === 'string' && padding.startsWith('oaep-') && OAEP_HASHES.includes(hash)),
      `RawRsaKeyring: unknown padding ${String(padding)}`,
    );
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#padding-scheme
    //# If the padding scheme uses MGF1 Padding, the hash function used as part of MGF1 MUST be the
    //# same hash function used to hash the plaintext data key.
    // Node.js hashes the OAEP label and drives MGF1 with the one `oaepHash`.
    this.#pad =
      padding === 'pkcs1'
        ? { padding: constants.RSA_PKCS1_PADDING }
        : { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash };
    this.keyNamespace = keyNamespace;
    this.keyName = keyName;
    this.padding = padding;
    this.#nameBytes = Buffer.from(keyName, 'utf8');
    this.#privateKey =
      privateKey === undefined
        ? undefined
        : typeof privateKey === 'string'
          ? createPrivateKey(privateKey)
          : privateKey;
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#onencrypt
    //# The keyring MUST NOT derive a public key from a specified private key.
    this.#publicKey =
      publicKey === undefined
        ? undefined
        : typeof publicKey === 'string'
          ? createPublicKey(publicKey)
          : publicKey;
  }

  onEncrypt(materials: EncryptionMaterials): Promise<EncryptionMaterials> {
    try {
      return Promise.resolve(this.#encrypt(materials));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  onDecrypt(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    try {
      return Promise.resolve(this.#decrypt(materials, edks));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #encrypt(materials: EncryptionMaterials): EncryptionMaterials {
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#onencrypt
    //# OnEncrypt MUST fail if this keyring does not have a specified public key.
    needs(this.#publicKey !== undefined, 'RawRsaKeyring: no public key, cannot encrypt');
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#onencrypt
    //# If the encryption materials do not contain a plaintext data key,
    //# OnEncrypt MUST generate a random plaintext data key and set it on the encryption materials.
    // Set only once RSA succeeded, so a failed OnEncrypt leaves the materials as they were.
    const key = materials.plaintextDataKey ?? randomBytes(materials.suite.keyLength);
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#onencrypt
    //# The keyring MUST attempt to encrypt the plaintext data key in the
    //# encryption materials using RSA.
    const ciphertext = publicEncrypt({ key: this.#publicKey, ...this.#pad }, key);
    materials.plaintextDataKey = key;
    materials.encryptedDataKeys.push({
      providerId: this.keyNamespace,
      providerInfo: this.#nameBytes,
      encryptedDataKey: ciphertext,
    });
    return materials;
  }

  #decrypt(materials: DecryptionMaterials, edks: readonly EncryptedDataKey[]): DecryptionMaterials {
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#ondecrypt
    //# OnDecrypt MUST fail if this keyring does not have a specified private key.
    needs(
      this.#privateKey !== undefined,
      'RawRsaKeyring: no private key, cannot decrypt',
      decryptionError,
    );
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#ondecrypt
    //# If the decryption materials already contain a plaintext data key,
    //# the keyring MUST fail
    //# and MUST NOT modify the decryption materials.
    needs(
      materials.plaintextDataKey === undefined,
      'RawRsaKeyring: the decryption materials already hold a data key',
      decryptionError,
    );
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#ondecrypt
    //# The keyring MUST attempt to decrypt the input encrypted data keys, in list order, until it
    //# successfully decrypts one.
    for (const edk of edks) {
      //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#ondecrypt
      //# For each encrypted data key, the keyring MUST attempt to decrypt the encrypted data key into
      //# plaintext using RSA if and only if the following is true:
      //# - The encrypted data key's key provider information.
      //# has a value equal to this keyring's key name.
      //# - The encrypted data key's key provider ID has a value equal to
      //# this keyring's key namespace.
      if (!edk.providerInfo.equals(this.#nameBytes) || edk.providerId !== this.keyNamespace)
        continue;
      let key: Buffer;
      try {
        key = privateDecrypt({ key: this.#privateKey, ...this.#pad }, edk.encryptedDataKey);
      } catch {
        // Not ours, or a padding Node refuses: try the next EDK.
        continue;
      }
      // A key of another length cannot be this suite's data key: a failed decryption, not a result.
      if (key.length !== materials.suite.keyLength) {
        key.fill(0);
        continue;
      }
      //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#ondecrypt
      //# If any decryption succeeds, this keyring MUST immediately return the input
      //# decryption materials, modified in the following ways:
      //# - The output of RSA decryption is set as the decryption material's plaintext data key.
      materials.plaintextDataKey = key;
      return materials;
    }
    //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#ondecrypt
    //# If no decryption succeeds,
    //# the keyring MUST fail
    //# and MUST NOT modify the decryption materials.
    throw decryptionError(
      `RawRsaKeyring: no encrypted data key of this keyring's namespace and name could be decrypted`,
    );
  }
}
