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
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './types.js';

/** RSA padding schemes the ESDK's raw RSA keyring supports. */
export type RsaPadding = 'pkcs1' | 'oaep-sha1' | 'oaep-sha256' | 'oaep-sha384' | 'oaep-sha512';

/** Options of {@link RawRsaKeyring}. At least one of the keys is required. */
export interface RawRsaKeyringOptions {
  readonly keyNamespace: string;
  readonly keyName: string;
  readonly padding: RsaPadding;
  /** PEM (SPKI) or KeyObject; without it the keyring cannot encrypt. */
  readonly publicKey?: string | KeyObject;
  /** PEM (PKCS#8) or KeyObject; without it the keyring cannot decrypt. */
  readonly privateKey?: string | KeyObject;
}

/**
 * Raw RSA keyring, byte-compatible with the ESDK's: the data key is RSA-encrypted with the given padding
 * (OAEP uses the same hash for MGF1 and an empty label); the key provider information is the key name.
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
    needs(
      typeof keyNamespace === 'string' && keyNamespace.length > 0,
      'RawRsaKeyring: keyNamespace is required',
    );
    needs(typeof keyName === 'string' && keyName.length > 0, 'RawRsaKeyring: keyName is required');
    needs(keyNamespace !== 'aws-kms', 'RawRsaKeyring: keyNamespace must not be "aws-kms"');
    needs(
      publicKey !== undefined || privateKey !== undefined,
      'RawRsaKeyring: publicKey or privateKey is required',
    );
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
    this.#publicKey =
      publicKey !== undefined
        ? typeof publicKey === 'string'
          ? createPublicKey(publicKey)
          : publicKey
        : this.#privateKey
          ? createPublicKey(this.#privateKey)
          : undefined;
    if (padding === 'pkcs1') this.#pad = { padding: constants.RSA_PKCS1_PADDING };
    else {
      const hash = padding.slice('oaep-'.length);
      needs(
        ['sha1', 'sha256', 'sha384', 'sha512'].includes(hash),
        `RawRsaKeyring: unknown padding ${padding}`,
      );
      this.#pad = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash };
    }
  }

  onEncrypt(materials: EncryptionMaterials): Promise<EncryptionMaterials> {
    try {
      //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#onencrypt
      //# OnEncrypt MUST fail if this keyring does not have a specified public key.
      needs(this.#publicKey !== undefined, 'RawRsaKeyring: no public key, cannot encrypt');
      if (materials.plaintextDataKey === undefined)
        materials.plaintextDataKey = randomBytes(materials.suite.keyLength);
      const edk = publicEncrypt({ key: this.#publicKey, ...this.#pad }, materials.plaintextDataKey);
      materials.encryptedDataKeys.push({
        providerId: this.keyNamespace,
        providerInfo: this.#nameBytes,
        encryptedDataKey: edk,
      });
      return Promise.resolve(materials);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  onDecrypt(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    if (materials.plaintextDataKey !== undefined || this.#privateKey === undefined)
      return Promise.resolve(materials);
    for (const edk of edks) {
      //= aws-encryption-sdk-specification/framework/raw-rsa-keyring.md#ondecrypt
      //# The keyring MUST attempt to decrypt the input encrypted data keys, in list order, until it successfully decrypts one; it MUST only attempt EDKs whose key provider ID equals its key namespace and whose key provider info equals its key name.
      if (edk.providerId !== this.keyNamespace || !edk.providerInfo.equals(this.#nameBytes))
        continue;
      try {
        const key = privateDecrypt({ key: this.#privateKey, ...this.#pad }, edk.encryptedDataKey);
        if (key.length !== materials.suite.keyLength) continue;
        materials.plaintextDataKey = key;
        break;
      } catch {
        // Not ours, or a padding Node refuses: try the next EDK.
      }
    }
    return Promise.resolve(materials);
  }
}
