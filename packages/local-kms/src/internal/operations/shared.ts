import { KmsError } from '../errors.js';
import { optBool, optInt, optString, type Input } from '../input.js';
import { specInfo } from '../keySpecs.js';
import type { Key, KeyStore } from '../KeyStore.js';

/** What a handler sees besides its input. */
export interface OpContext {
  readonly store: KeyStore;
  readonly region: string;
  /** The clock's time, in milliseconds since the epoch. */
  readonly now: number;
}

/** An operation handler: returns the response body or throws a `KmsError`. */
export type Handler = (ctx: OpContext, input: Input) => object;

export const DRY_RUN_MESSAGE = 'The request would have succeeded, but the DryRun option is set.';
export const DAY_MS = 86_400_000;

/** KMS timestamps are epoch seconds on the wire. */
export function seconds(ms: number): number {
  return ms / 1000;
}

/** `KeyMetadata` exactly as the SDK's `KeyMetadata` shape names its members. */
export function keyMetadata(store: KeyStore, key: Key): Record<string, unknown> {
  const s = key.stored;
  const meta: Record<string, unknown> = {
    AWSAccountId: store.accountId,
    KeyId: s.id,
    Arn: key.arn,
    CreationDate: seconds(s.creationDate),
    Enabled: s.state === 'Enabled',
    Description: s.description,
    KeyUsage: s.keyUsage,
    KeyState:
      s.customKeyStoreId !== undefined &&
      store.store(s.region, s.customKeyStoreId)?.state !== 'CONNECTED' &&
      s.state !== 'PendingDeletion'
        ? 'Unavailable'
        : s.state,
    Origin: s.origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: s.keySpec,
    KeySpec: s.keySpec,
    ...specInfo(s.keySpec).algorithms(s.keyUsage),
    MultiRegion: s.multiRegion !== undefined,
  };
  if (s.multiRegion !== undefined) {
    const { primaryRegion } = s.multiRegion;
    const live = store.copies(key).map((k) => k.stored.region);
    meta['MultiRegionConfiguration'] = {
      MultiRegionKeyType: primaryRegion === s.region ? 'PRIMARY' : 'REPLICA',
      PrimaryKey: { Arn: store.keyArn(primaryRegion, s.id), Region: primaryRegion },
      ReplicaKeys: live
        .filter((r) => r !== primaryRegion)
        .map((r) => ({ Arn: store.keyArn(r, s.id), Region: r })),
    };
  }
  if (s.customKeyStoreId !== undefined) {
    meta['CustomKeyStoreId'] = s.customKeyStoreId;
    const cks = store.store(s.region, s.customKeyStoreId);
    if (cks !== undefined) meta['CloudHsmClusterId'] = cks.cloudHsmClusterId;
  }
  if (s.keySpec === 'SYMMETRIC_DEFAULT') {
    meta['CurrentKeyMaterialId'] = key.materialIds[key.materialIds.length - 1];
  }
  if (s.state === 'PendingDeletion') {
    meta['DeletionDate'] = seconds(s.deletionDate ?? 0);
    meta['PendingDeletionWindowInDays'] = s.pendingWindowInDays;
  }
  return meta;
}

/** Throws 412 `DryRunOperationException` when `DryRun` is set; call it once every check has passed. */
export function dryRun(input: Input): void {
  if (optBool(input, 'DryRun') === true) {
    throw new KmsError('DryRunOperationException', DRY_RUN_MESSAGE, 412);
  }
}

/** A key that may be used for a cryptographic operation now: enabled and of the right usage. */
export function usable(key: Key, usage = 'ENCRYPT_DECRYPT'): Key {
  const s = key.stored;
  if (s.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
  if (s.state === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  if (s.keyUsage !== usage) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `${key.arn} key usage is ${s.keyUsage} which is not valid for this operation.`,
    );
  }
  return key;
}

/** Throws `UnsupportedOperationException` unless the key is a multi-Region primary (or single-Region). */
export function notReplica(key: Key): Key {
  const mr = key.stored.multiRegion;
  if (mr !== undefined && mr.primaryRegion !== key.stored.region) {
    throw new KmsError(
      'UnsupportedOperationException',
      `${key.arn} is a multi-Region replica key; call this on its primary in ${mr.primaryRegion}.`,
    );
  }
  return key;
}

/** Throws `KMSInvalidStateException` for a key pending deletion. */
export function notPendingDeletion(key: Key): Key {
  if (key.stored.state === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  return key;
}

/** Throws `UnsupportedOperationException` for `Recipient` (Nitro Enclaves), which local-kms lacks. */
export function noRecipient(input: Input): void {
  if (input['Recipient'] !== undefined && input['Recipient'] !== null) {
    throw new KmsError(
      'UnsupportedOperationException',
      'local-kms does not support Recipient (Nitro Enclaves attestation documents).',
    );
  }
}

/**
 * One page of `items` from `Limit` and `Marker`. The marker is the base64url of the next item's id, so
 * it survives items added meanwhile; an unknown marker is `InvalidMarkerException`.
 */
export function page<T>(
  items: readonly T[],
  input: Input,
  defaultLimit: number,
  maxLimit: number,
  idOf: (item: T) => string,
): { page: T[]; next: string | undefined } {
  const limit = optInt(input, 'Limit', 1, maxLimit) ?? defaultLimit;
  const marker = optString(input, 'Marker', 1, 1024);
  let start = 0;
  if (marker !== undefined) {
    const id = Buffer.from(marker, 'base64url').toString('utf8');
    start = items.findIndex((i) => idOf(i) === id);
    if (start < 0) throw new KmsError('InvalidMarkerException', 'The marker is not valid.');
  }
  const slice = items.slice(start, start + limit);
  const after = items[start + limit];
  return {
    page: slice,
    next: after === undefined ? undefined : Buffer.from(idOf(after), 'utf8').toString('base64url'),
  };
}

/** The `{ ..., Truncated, NextMarker? }` tail of a List* response. */
export function pageTail(next: string | undefined): Record<string, unknown> {
  return next === undefined ? { Truncated: false } : { Truncated: true, NextMarker: next };
}
