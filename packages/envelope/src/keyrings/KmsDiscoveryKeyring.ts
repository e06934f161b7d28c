import type { KMSClient } from '@aws-sdk/client-kms';
import { needs } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './types.js';
import { isMrk, parseKmsArn } from './arn.js';
import { KMS_PROVIDER_ID, decryptEdk } from './KmsKeyring.js';

/** Only keys in these accounts of this partition are used. */
export interface DiscoveryFilter {
  readonly accountIds: readonly string[];
  /** e.g. `aws`, `aws-cn`, `aws-us-gov`. */
  readonly partition: string;
}

/** Options of {@link KmsDiscoveryKeyring}. */
export interface KmsDiscoveryKeyringOptions {
  /** The client every KMS call goes through (its Region is where multi-Region keys are decrypted). */
  readonly client: KMSClient;
  /** Restrict decryption to keys of these accounts in this partition. Strongly recommended. */
  readonly discoveryFilter?: DiscoveryFilter;
  readonly grantTokens?: readonly string[];
}

/**
 * Decrypt-only KMS keyring that uses whatever key ARN each EDK names (filtered by account and partition),
 * multi-Region aware: an EDK wrapped by a multi-Region key in another Region is decrypted by its replica in
 * the client's Region. It cannot encrypt.
 */
export class KmsDiscoveryKeyring implements Keyring {
  readonly client: KMSClient;
  readonly discoveryFilter: DiscoveryFilter | undefined;
  readonly #grantTokens: string[] | undefined;

  constructor(options: KmsDiscoveryKeyringOptions) {
    needs(
      options.client !== undefined && typeof options.client.send === 'function',
      'KmsDiscoveryKeyring: client is required',
    );
    const f = options.discoveryFilter;
    if (f) {
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-discovery-keyring.md#initialization
      //# The discovery filter MUST have a partition and at least one account ID.
      needs(
        typeof f.partition === 'string' && f.partition.length > 0,
        'discoveryFilter.partition is required',
      );
      needs(
        f.accountIds.length > 0 && f.accountIds.every((a) => typeof a === 'string' && a.length > 0),
        'discoveryFilter.accountIds must be non-empty',
      );
    }
    this.client = options.client;
    this.discoveryFilter = f
      ? { partition: f.partition, accountIds: [...f.accountIds] }
      : undefined;
    this.#grantTokens = options.grantTokens ? [...options.grantTokens] : undefined;
  }

  onEncrypt(_materials: EncryptionMaterials): Promise<EncryptionMaterials> {
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-discovery-keyring.md#onencrypt
    //# This function MUST fail.
    return Promise.reject(new Error('KmsDiscoveryKeyring cannot encrypt'));
  }

  async onDecrypt(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    if (materials.plaintextDataKey !== undefined) return materials;
    const region = await this.client.config.region();
    const errors: unknown[] = [];
    for (const e of edks) {
      if (e.providerId !== KMS_PROVIDER_ID) continue;
      const arnText = e.providerInfo.toString('utf8');
      const arn = parseKmsArn(arnText);
      if (!arn || arn.resourceType !== 'key') continue;
      const f = this.discoveryFilter;
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-discovery-keyring.md#ondecrypt
      //# If a discovery filter is configured, its partition and the provider info partition MUST match, and its set of account IDs MUST contain the provider info account ID.
      if (f && (f.partition !== arn.partition || !f.accountIds.includes(arn.account))) continue;
      // A multi-Region key is called in the client's Region, so the local replica decrypts.
      const keyId = isMrk(arnText)
        ? `arn:${arn.partition}:kms:${region}:${arn.account}:key/${arn.resourceId}`
        : arnText;
      const key = await decryptEdk(this.client, keyId, e, materials, this.#grantTokens, errors);
      if (key) {
        materials.plaintextDataKey = key;
        return materials;
      }
    }
    if (errors.length > 0)
      throw new AggregateError(errors, 'KmsDiscoveryKeyring: KMS could not decrypt any data key');
    return materials;
  }
}
