import type { KMSClient } from '@aws-sdk/client-kms';
import { InvalidOptionError, needs } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import { decryptionError } from '../errors.js';
import { collectedFailure } from './MultiKeyring.js';
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
 * Decrypt-only KMS keyring that uses whatever key ARN each EDK names (filtered by account and partition):
 * the ESDK's AWS KMS MRK discovery keyring. An EDK wrapped by a multi-Region key in another Region is
 * decrypted by its replica in the client's Region; an EDK of a single-Region key in another Region is
 * skipped, since this client cannot reach that key. It cannot encrypt.
 */
export class KmsDiscoveryKeyring implements Keyring {
  readonly client: KMSClient;
  readonly discoveryFilter: DiscoveryFilter | undefined;
  readonly #grantTokens: string[] | undefined;

  constructor(options: KmsDiscoveryKeyringOptions) {
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#initialization
    //# They keyring MUST fail initialization if any required parameters are missing or null.
    // The Region the specification also requires is the client's own (`client.config.region`), so it
    // cannot disagree with the client.
    needs(typeof options.client?.send === 'function', 'KmsDiscoveryKeyring: client is required');
    const f = options.discoveryFilter;
    if (f) {
      // A local rule, stricter than the specification: a filter naming no partition or no account would
      // either match nothing or be a typo, so it is refused at construction.
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
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#onencrypt
    //# This function MUST fail.
    return Promise.reject(new InvalidOptionError('KmsDiscoveryKeyring cannot encrypt'));
  }

  async onDecrypt(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
    //# If the decryption materials already contained a valid plaintext data key,
    //# they keyring MUST fail and MUST NOT modify the decryption materials.
    needs(
      materials.plaintextDataKey === undefined,
      'KmsDiscoveryKeyring: the decryption materials already hold a data key',
      decryptionError,
    );
    const region = await this.client.config.region();
    const f = this.discoveryFilter;
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
    //# The set of encrypted data keys MUST first be filtered to match this keyring’s configuration.
    const filtered: Array<{ edk: EncryptedDataKey; keyId: string }> = [];
    for (const e of edks) {
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
      //# Its provider ID MUST exactly match the value “aws-kms”.
      if (e.providerId !== KMS_PROVIDER_ID) continue;
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
      //# The provider info MUST be a valid AWS KMS ARN with a resource type of `key` or OnDecrypt MUST
      //# fail.
      const arnText = e.providerInfo.toString('utf8');
      const arn = parseKmsArn(arnText);
      needs(
        arn !== undefined && arn.resourceType === 'key',
        'KmsDiscoveryKeyring: an aws-kms encrypted data key does not name an AWS KMS key ARN',
        decryptionError,
      );
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
      //# If a discovery filter is configured, its partition and the provider info partition MUST match.
      if (f && f.partition !== arn.partition) continue;
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
      //# If a discovery filter is configured, its set of accounts MUST contain the provider info account.
      if (f && !f.accountIds.includes(arn.account)) continue;
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
      //# If the provider info is not identified as a multi-Region key, then the provider info’s Region
      //# MUST match the AWS KMS client region.
      const mrk = isMrk(arnText);
      if (!mrk && arn.region !== region) continue;
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
      //# If the provider info’s resource type is `key` and its resource is a multi-Region key
      //# then a new ARN MUST be created where the region part MUST equal the AWS KMS client region
      //# and every other part MUST equal the provider info. Otherwise it MUST be the provider info.
      const keyId = mrk
        ? `arn:${arn.partition}:kms:${region}:${arn.account}:key/${arn.resourceId}`
        : arnText;
      filtered.push({ edk: e, keyId });
    }
    const errors: unknown[] = [];
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
    //# For each encrypted data key in the filtered set, one at a time, the OnDecrypt MUST attempt to
    //# decrypt the data key.
    for (const { edk: e, keyId } of filtered) {
      //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
      //# The `KeyId` field in the response MUST equal the requested `KeyId`
      const key = await decryptEdk(this.client, keyId, e, materials, this.#grantTokens, errors);
      if (key) {
        materials.plaintextDataKey = key;
        return materials;
      }
    }
    //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-discovery-keyring.md#ondecrypt
    //# If OnDecrypt fails to successfully decrypt any encrypted data key,
    //# then it MUST yield an error that includes all collected errors.
    throw collectedFailure('KmsDiscoveryKeyring: no encrypted data key could be decrypted', errors);
  }
}
