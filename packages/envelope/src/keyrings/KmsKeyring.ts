import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { needs } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './types.js';
import { mrkMatch, parseKmsArn } from './arn.js';

/** Key provider ID of every EDK a KMS keyring writes. */
export const KMS_PROVIDER_ID = 'aws-kms';

/** Options of {@link KmsKeyring}. */
export interface KmsKeyringOptions {
  /**
   * The client every KMS call goes through. Attach `@steadykms/core`'s plugin to it and the keyring's
   * calls are paced, retried and cached like any other.
   */
  readonly client: KMSClient;
  /** Key that generates the data key (GenerateDataKey). Key ARN, alias ARN, key id or alias. */
  readonly generatorKeyId?: string;
  /** More keys that each encrypt the data key (Encrypt). On decrypt, these must be key ARNs. */
  readonly keyIds?: readonly string[];
  /** Grant tokens passed on every call. */
  readonly grantTokens?: readonly string[];
}

/**
 * AWS KMS keyring, compatible with the ESDK's multi-Region-key-aware KMS keyring: encrypt generates the
 * data key with the generator and encrypts it under each additional key; decrypt tries the EDKs whose key
 * ARN matches one of its keys (a multi-Region key matches its replicas in other Regions, and is then
 * called with the configured ARN so the local replica answers).
 */
export class KmsKeyring implements Keyring {
  readonly client: KMSClient;
  readonly generatorKeyId: string | undefined;
  readonly keyIds: readonly string[];
  readonly #grantTokens: string[] | undefined;

  constructor(options: KmsKeyringOptions) {
    needs(
      options.client !== undefined && typeof options.client.send === 'function',
      'KmsKeyring: client is required',
    );
    needs(
      options.generatorKeyId !== undefined || (options.keyIds?.length ?? 0) > 0,
      'KmsKeyring: generatorKeyId or keyIds is required',
    );
    this.client = options.client;
    this.generatorKeyId = options.generatorKeyId;
    this.keyIds = [...(options.keyIds ?? [])];
    this.#grantTokens = options.grantTokens ? [...options.grantTokens] : undefined;
  }

  async onEncrypt(materials: EncryptionMaterials): Promise<EncryptionMaterials> {
    const ctx = { ...materials.encryptionContext };
    const grants = this.#grantTokens ? { GrantTokens: this.#grantTokens } : {};
    let rest = this.keyIds;
    if (materials.plaintextDataKey === undefined) {
      needs(
        this.generatorKeyId !== undefined,
        'KmsKeyring: no generatorKeyId to generate a data key',
      );
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-keyring.md#onencrypt
      //# If the input encryption materials do not contain a plaintext data key OnEncrypt MUST attempt to generate a new plaintext data key by calling AWS KMS GenerateDataKey.
      const r = await this.client.send(
        new GenerateDataKeyCommand({
          KeyId: this.generatorKeyId,
          NumberOfBytes: materials.suite.keyLength,
          EncryptionContext: ctx,
          ...grants,
        }),
      );
      //# The Generate Data Key response's Plaintext MUST match the key derivation input length specified by the algorithm suite included in the input encryption materials.
      needs(
        r.Plaintext?.length === materials.suite.keyLength,
        'KmsKeyring: GenerateDataKey returned a data key of the wrong length',
      );
      //# The Generate Data Key response's KeyId MUST be A valid AWS KMS key ARN.
      needs(
        r.KeyId !== undefined &&
          parseKmsArn(r.KeyId) !== undefined &&
          r.CiphertextBlob !== undefined,
        'KmsKeyring: GenerateDataKey response has no valid KeyId ARN or ciphertext',
      );
      materials.plaintextDataKey = Buffer.from(r.Plaintext);
      r.Plaintext.fill(0);
      materials.encryptedDataKeys.push(edk(r.KeyId, r.CiphertextBlob));
    } else if (this.generatorKeyId !== undefined) {
      rest = [this.generatorKeyId, ...this.keyIds];
    }
    const key = materials.plaintextDataKey;
    for (const keyId of rest) {
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-keyring.md#onencrypt
      //# Given a plaintext data key in the encryption materials, OnEncrypt MUST attempt to encrypt the plaintext data key using the configured AWS KMS key identifier.
      const r = await this.client.send(
        new EncryptCommand({ KeyId: keyId, Plaintext: key, EncryptionContext: ctx, ...grants }),
      );
      needs(
        r.KeyId !== undefined &&
          parseKmsArn(r.KeyId) !== undefined &&
          r.CiphertextBlob !== undefined,
        'KmsKeyring: Encrypt response has no valid KeyId ARN or ciphertext',
      );
      materials.encryptedDataKeys.push(edk(r.KeyId, r.CiphertextBlob));
    }
    return materials;
  }

  async onDecrypt(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    if (materials.plaintextDataKey !== undefined) return materials;
    const mine =
      this.generatorKeyId !== undefined ? [this.generatorKeyId, ...this.keyIds] : this.keyIds;
    const errors: unknown[] = [];
    for (const e of edks) {
      if (e.providerId !== KMS_PROVIDER_ID) continue;
      const arn = e.providerInfo.toString('utf8');
      if (!parseKmsArn(arn)) continue;
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
      //# The provider info MUST be a valid AWS KMS ARN with a resource type of key or OnDecrypt MUST fail. ... The function AWS KMS MRK Match for Decrypt called with the configured AWS KMS key identifier and the provider info MUST return true.
      const keyId = mine.find((k) => mrkMatch(k, arn));
      if (keyId === undefined) continue;
      const key = await decryptEdk(this.client, keyId, e, materials, this.#grantTokens, errors);
      if (key) {
        materials.plaintextDataKey = key;
        return materials;
      }
    }
    if (errors.length > 0)
      throw new AggregateError(errors, 'KmsKeyring: KMS could not decrypt any matching data key');
    return materials;
  }
}

function edk(keyId: string, blob: Uint8Array): EncryptedDataKey {
  return {
    providerId: KMS_PROVIDER_ID,
    providerInfo: Buffer.from(keyId, 'utf8'),
    encryptedDataKey: Buffer.from(blob),
  };
}

/** One KMS Decrypt of one EDK; errors are collected, not thrown. @internal */
export async function decryptEdk(
  client: KMSClient,
  keyId: string,
  e: EncryptedDataKey,
  materials: DecryptionMaterials,
  grantTokens: string[] | undefined,
  errors: unknown[],
): Promise<Buffer | undefined> {
  try {
    const r = await client.send(
      new DecryptCommand({
        KeyId: keyId,
        CiphertextBlob: e.encryptedDataKey,
        EncryptionContext: { ...materials.encryptionContext },
        ...(grantTokens ? { GrantTokens: grantTokens } : {}),
      }),
    );
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
    //# The KeyId field in the response MUST equal the configured AWS KMS key identifier. The length of the response's Plaintext MUST equal the key derivation input length specified by the algorithm suite included in the input decryption materials.
    if (r.KeyId !== keyId || r.Plaintext?.length !== materials.suite.keyLength) {
      r.Plaintext?.fill(0);
      errors.push(
        new Error('KMS Decrypt response did not match the requested key or the suite key length'),
      );
      return undefined;
    }
    const key = Buffer.from(r.Plaintext);
    r.Plaintext.fill(0);
    return key;
  } catch (err) {
    errors.push(err);
    return undefined;
  }
}
