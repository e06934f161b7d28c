import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { randomBytesPooled } from '../internal/random.js';
import { needs } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import { decryptionError } from '../errors.js';
import type { DecryptionMaterials, EncryptionMaterials, SyncKeyring } from './types.js';

/** Options of {@link RawAesKeyring}. */
export interface RawAesKeyringOptions {
  /** Key namespace, written as the EDK's key provider ID. Must not be or start with `aws-kms`. */
  readonly keyNamespace: string;
  /** Key name, written at the start of the EDK's key provider information. */
  readonly keyName: string;
  /** The wrapping key: 16, 24 or 32 bytes (AES-128/192/256-GCM). */
  readonly wrappingKey: Uint8Array;
}

const TAG_BITS = 128;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/**
 * Raw AES keyring, byte-compatible with the ESDK's: the data key is wrapped with AES-GCM under a key you
 * hold, with the serialised encryption context as AAD. Use it offline, in tests, or where the wrapping key
 * lives in your own secret store.
 */
export class RawAesKeyring implements SyncKeyring {
  readonly keyNamespace: string;
  readonly keyName: string;
  readonly #key: KeyObject;
  readonly #cipher: 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm';
  readonly #nameBytes: Buffer;
  readonly #infoPrefix: Buffer;

  constructor(options: RawAesKeyringOptions) {
    const { keyNamespace, keyName, wrappingKey } = options;
    needs(
      typeof keyNamespace === 'string' && keyNamespace.length > 0,
      'RawAesKeyring: keyNamespace is required',
    );
    needs(typeof keyName === 'string' && keyName.length > 0, 'RawAesKeyring: keyName is required');
    //= aws-encryption-sdk-specification/framework/keyring-interface.md#key-provider-id
    //# This value MUST NOT be or start with "aws-kms"
    //# unless this encrypted data key was produced by one of the AWS KMS Keyrings.
    needs(
      !keyNamespace.startsWith('aws-kms'),
      'RawAesKeyring: keyNamespace must not be or start with "aws-kms"',
    );
    needs(
      wrappingKey instanceof Uint8Array && [16, 24, 32].includes(wrappingKey.length),
      'RawAesKeyring: wrappingKey must be 16, 24 or 32 bytes',
    );
    this.keyNamespace = keyNamespace;
    this.keyName = keyName;
    this.#key = createSecretKey(Buffer.from(wrappingKey));
    this.#cipher = `aes-${wrappingKey.length * 8}-gcm` as 'aes-256-gcm';
    this.#nameBytes = Buffer.from(keyName, 'utf8');
    //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#onencrypt
    //# Based on the ciphertext output of the AES-GCM decryption,
    //# the keyring MUST construct an encrypted data key with the following specifics:
    //# - The key provider ID is this keyring's key namespace.
    //# - The key provider information is serialized as the
    //# raw AES keyring key provider information.
    //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#authentication-tag-length
    //# This value MUST match the authentication tag length of the keyring's configured wrapping
    //# algorithm.
    //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#iv-length
    //# This value MUST match the IV length of the keyring's configured wrapping algorithm.
    this.#infoPrefix = Buffer.allocUnsafe(this.#nameBytes.length + 8);
    this.#nameBytes.copy(this.#infoPrefix, 0);
    this.#infoPrefix.writeUInt32BE(TAG_BITS, this.#nameBytes.length);
    this.#infoPrefix.writeUInt32BE(IV_LENGTH, this.#nameBytes.length + 4);
  }

  onEncrypt(materials: EncryptionMaterials): Promise<EncryptionMaterials> {
    try {
      return Promise.resolve(this.onEncryptSync(materials));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  onDecrypt(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    try {
      return Promise.resolve(this.onDecryptSync(materials, edks));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** {@link onEncrypt}, synchronously (no I/O is involved). @internal */
  onEncryptSync(materials: EncryptionMaterials): EncryptionMaterials {
    if (materials.plaintextDataKey === undefined) {
      //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#onencrypt
      //# If the encryption materials do not contain a plaintext data key,
      //# OnEncrypt MUST generate a random plaintext data key and set it on the encryption materials.
      materials.plaintextDataKey = randomBytesPooled(materials.suite.keyLength);
    }
    // One allocation for the provider info (key name, tag and IV lengths, IV) and the EDK (wrapped key
    // then tag): two slices of it go into the header.
    const keyLength = materials.plaintextDataKey.length;
    const infoLength = this.#infoPrefix.length + IV_LENGTH;
    const both = Buffer.allocUnsafe(infoLength + keyLength + TAG_LENGTH);
    const info = both.subarray(0, infoLength);
    const edk = both.subarray(infoLength);
    this.#infoPrefix.copy(info, 0);
    const iv = info.subarray(this.#infoPrefix.length);
    randomBytesPooled(IV_LENGTH, iv);
    const c = createCipheriv(this.#cipher, this.#key, iv);
    c.setAAD(materials.serializedContext);
    c.update(materials.plaintextDataKey).copy(edk, 0);
    c.final();
    c.getAuthTag().copy(edk, keyLength);
    materials.encryptedDataKeys.push({
      providerId: this.keyNamespace,
      providerInfo: info,
      encryptedDataKey: edk,
    });
    return materials;
  }

  /** {@link onDecrypt}, synchronously (no I/O is involved). @internal */
  onDecryptSync(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): DecryptionMaterials {
    //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#ondecrypt
    //# If the decryption materials already contain a plaintext data key,
    //# the keyring MUST fail
    //# and MUST NOT modify the decryption materials.
    needs(
      materials.plaintextDataKey === undefined,
      'RawAesKeyring: the decryption materials already hold a data key',
      decryptionError,
    );
    const keyLength = materials.suite.keyLength;
    //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#ondecrypt
    //# The keyring MUST perform the following actions on each encrypted data key
    //# in the input encrypted data key list, serially, until it successfully decrypts one.
    for (const edk of edks) {
      if (!this.#mine(edk)) continue;
      //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#ondecrypt
      //# The ciphertext and key provider information MUST be successfully deserialized.
      if (edk.encryptedDataKey.length !== keyLength + TAG_LENGTH) continue;
      try {
        const iv = edk.providerInfo.subarray(this.#infoPrefix.length);
        const d = createDecipheriv(this.#cipher, this.#key, iv);
        d.setAAD(materials.serializedContext);
        d.setAuthTag(edk.encryptedDataKey.subarray(keyLength));
        const head = d.update(edk.encryptedDataKey.subarray(0, keyLength));
        try {
          d.final();
        } catch (e) {
          // Nothing unauthenticated survives: the candidate key is wiped before trying the next EDK.
          head.fill(0);
          throw e;
        }
        //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#ondecrypt
        //# If a decryption succeeds, this keyring MUST
        //# add the resulting plaintext data key to the decryption materials and return the modified
        //# materials.
        materials.plaintextDataKey = head;
        return materials;
      } catch {
        // Wrong key or wrong context: try the next EDK.
      }
    }
    //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#ondecrypt
    //# If no decryption succeeds,
    //# the keyring MUST fail
    //# and MUST NOT modify the decryption materials.
    throw decryptionError(
      "RawAesKeyring: no encrypted data key of this keyring's namespace and name could be decrypted",
    );
  }

  #mine(edk: EncryptedDataKey): boolean {
    // The prefix comparison checks the key name, the tag length and the IV length at once.
    //= aws-encryption-sdk-specification/framework/raw-aes-keyring.md#ondecrypt
    //# The key name obtained from the encrypted data key's key provider information MUST have a value
    //# equal to this keyring's key name.
    //# The key provider ID of the encrypted data key MUST have a value equal to this keyring's key
    //# namespace.
    //# The IV length obtained from the encrypted data key's key provider information MUST have a value
    //# equal to the length specified by this keyring's wrapping algorithm.
    //# The authentication tag length obtained from the key provider information MUST have a value equal
    //# to the length specified by this keyring's wrapping algorithm.
    if (edk.providerId !== this.keyNamespace) return false;
    const info = edk.providerInfo;
    if (info.length !== this.#infoPrefix.length + IV_LENGTH) return false;
    return info.subarray(0, this.#infoPrefix.length).equals(this.#infoPrefix);
  }
}
