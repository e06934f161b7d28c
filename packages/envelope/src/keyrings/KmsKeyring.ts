import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  type DecryptCommandOutput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { InvalidOptionError, needs } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import { decryptionError } from '../errors.js';
import { collectedFailure } from './MultiKeyring.js';
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
 *
 * Decrypt fails with a `DecryptionError` when no EDK could be decrypted (its message lists every KMS
 * error met on the way), and at once when an `aws-kms` EDK names anything but a key ARN (an alias ARN,
 * or bytes that are no ARN): the ESDK specification treats such an EDK as a malformed message, not as an
 * EDK of someone else.
 */
export class KmsKeyring implements Keyring {
  readonly client: KMSClient;
  readonly generatorKeyId: string | undefined;
  readonly keyIds: readonly string[];
  readonly #grantTokens: string[] | undefined;

  constructor(options: KmsKeyringOptions) {
    needs(typeof options.client?.send === 'function', 'KmsKeyring: client is required');
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
      //# If the input encryption materials do not contain a plaintext data key
      //# OnEncrypt MUST attempt to generate a new plaintext data key
      //# by calling AWS KMS GenerateDataKey.
      const r = await this.client.send(
        new GenerateDataKeyCommand({
          KeyId: this.generatorKeyId,
          NumberOfBytes: materials.suite.keyLength,
          EncryptionContext: ctx,
          ...grants,
        }),
      );
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-keyring.md#onencrypt
      //# If the Generate Data Key call succeeds, OnEncrypt MUST verify that the response `Plaintext`
      //# length matches the specification of the algorithm suite's Key Derivation Input Length field.
      if (r.Plaintext?.length !== materials.suite.keyLength) {
        r.Plaintext?.fill(0);
        throw new InvalidOptionError(
          'KmsKeyring: GenerateDataKey returned a data key of the wrong length',
        );
      }
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-keyring.md#onencrypt
      //# The Generate Data Key response’s `KeyId` MUST be a valid AWS KMS key ARN.
      if (!isKeyArn(r.KeyId) || r.CiphertextBlob === undefined) {
        r.Plaintext.fill(0);
        throw new InvalidOptionError(
          'KmsKeyring: GenerateDataKey response has no valid KeyId ARN or ciphertext',
        );
      }
      materials.plaintextDataKey = Buffer.from(r.Plaintext);
      r.Plaintext.fill(0);
      materials.encryptedDataKeys.push(edk(r.KeyId, r.CiphertextBlob));
    } else if (this.generatorKeyId !== undefined) {
      rest = [this.generatorKeyId, ...this.keyIds];
    }
    const key = materials.plaintextDataKey;
    for (const keyId of rest) {
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-keyring.md#onencrypt
      //# If the input encryption materials do contain a plaintext data key,
      //# OnEncrypt MUST attempt to encrypt the plaintext data key using the configured AWS KMS key
      //# identifier.
      const r = await this.client.send(
        new EncryptCommand({ KeyId: keyId, Plaintext: key, EncryptionContext: ctx, ...grants }),
      );
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-keyring.md#onencrypt
      //# If the Encrypt call succeeds the response’s `KeyId` MUST be A valid AWS KMS key ARN.
      needs(
        isKeyArn(r.KeyId) && r.CiphertextBlob !== undefined,
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
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
    //# If the decryption materials already contained a valid plaintext data key
    //# OnDecrypt MUST immediately return the unmodified decryption materials.
    if (materials.plaintextDataKey !== undefined) return materials;
    const mine =
      this.generatorKeyId !== undefined ? [this.generatorKeyId, ...this.keyIds] : this.keyIds;
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
    //# The set of encrypted data keys MUST first be filtered to match this keyring’s configuration.
    const filtered: Array<{ edk: EncryptedDataKey; keyId: string }> = [];
    for (const e of edks) {
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
      //# Its provider ID MUST exactly match the value “aws-kms”.
      if (e.providerId !== KMS_PROVIDER_ID) continue;
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
      //# The provider info MUST be a valid AWS KMS ARN with a resource type of `key` or OnDecrypt MUST
      //# fail.
      const arn = e.providerInfo.toString('utf8');
      needs(
        isKeyArn(arn),
        'KmsKeyring: an aws-kms encrypted data key does not name an AWS KMS key ARN',
        decryptionError,
      );
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
      //# The the function AWS KMS MRK Match for Decrypt called with the configured AWS KMS key
      //# identifier and the provider info MUST return `true`.
      const keyId = mine.find((k) => mrkMatch(k, arn));
      if (keyId !== undefined) filtered.push({ edk: e, keyId });
    }
    const errors: unknown[] = [];
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
    //# For each encrypted data key in the filtered set, one at a time, the OnDecrypt MUST attempt to
    //# decrypt the data key.
    for (const { edk: e, keyId } of filtered) {
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
      //# The `KeyId` field in the response MUST equal the configured AWS KMS key identifier.
      const key = await decryptEdk(this.client, keyId, e, materials, this.#grantTokens, errors);
      if (key) {
        materials.plaintextDataKey = key;
        return materials;
      }
    }
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
    //# If OnDecrypt fails to successfully decrypt any encrypted data key,
    //# then it MUST yield an error that includes all the collected errors.
    throw collectedFailure('KmsKeyring: no encrypted data key could be decrypted', errors);
  }
}

/** True when `s` is a valid AWS KMS ARN with resource type `key` (not an alias ARN). @internal */
export function isKeyArn(s: string | undefined): s is string {
  return s !== undefined && parseKmsArn(s)?.resourceType === 'key';
}

function edk(keyId: string, blob: Uint8Array): EncryptedDataKey {
  return {
    providerId: KMS_PROVIDER_ID,
    providerInfo: Buffer.from(keyId, 'utf8'),
    encryptedDataKey: Buffer.from(blob),
  };
}

/**
 * One KMS Decrypt of one EDK, called with `keyId`; the response must name that same `keyId` and hold a
 * data key of the suite's length. Errors are collected in `errors`, not thrown. @internal
 */
export async function decryptEdk(
  client: KMSClient,
  keyId: string,
  e: EncryptedDataKey,
  materials: DecryptionMaterials,
  grantTokens: string[] | undefined,
  errors: unknown[],
): Promise<Buffer | undefined> {
  let r: DecryptCommandOutput;
  try {
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
    //# If this attempt results in an error, then these errors MUST be collected.
    r = await client.send(
      new DecryptCommand({
        KeyId: keyId,
        CiphertextBlob: e.encryptedDataKey,
        EncryptionContext: { ...materials.encryptionContext },
        ...(grantTokens ? { GrantTokens: grantTokens } : {}),
      }),
    );
  } catch (err) {
    errors.push(err);
    return undefined;
  }
  //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
  //# The length of the response’s `Plaintext` MUST equal the key derivation input length specified by
  //# the algorithm suite included in the input decryption materials.
  //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-keyring.md#ondecrypt
  //# If the response does not satisfies these requirements then an error MUST be collected
  //# and the next encrypted data key in the filtered set MUST be attempted.
  if (r.KeyId !== keyId || r.Plaintext?.length !== materials.suite.keyLength) {
    r.Plaintext?.fill(0);
    errors.push(
      decryptionError(
        r.KeyId !== keyId
          ? 'KMS Decrypt response names another key than the one requested'
          : 'KMS Decrypt returned a data key of the wrong length for the suite',
      ),
    );
    return undefined;
  }
  const key = Buffer.from(r.Plaintext);
  r.Plaintext.fill(0);
  return key;
}
