import { KmsError, validation } from './errors.js';
import { randomBuffer } from './randomPool.js';
import { openBlob, readBlobHeader, sealBlob, type EncryptionContext } from './ciphertext.js';
import {
  checkGrantTokens,
  optBool,
  optContext,
  optEnum,
  optInt,
  optString,
  reqBlob,
  reqString,
  type Input,
} from './input.js';
import type { Key, KeyStore } from './KeyStore.js';

/** What a handler sees besides its input. */
export interface OpContext {
  readonly store: KeyStore;
  readonly region: string;
  readonly now: number;
}

/** An operation handler: returns the response body or throws a `KmsError`. */
export type Handler = (ctx: OpContext, input: Input) => object;

const ENCRYPTION_ALGORITHMS = [
  'SYMMETRIC_DEFAULT',
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'SM2PKE',
] as const;
const KEY_USAGES = [
  'ENCRYPT_DECRYPT',
  'SIGN_VERIFY',
  'GENERATE_VERIFY_MAC',
  'KEY_AGREEMENT',
] as const;
const KEY_SPECS = [
  'SYMMETRIC_DEFAULT',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'SM2',
  'ML_DSA_44',
  'ML_DSA_65',
  'ML_DSA_87',
] as const;
const ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
const DRY_RUN_MESSAGE = 'The request would have succeeded, but the DryRun option is set.';
const DAY_MS = 86_400_000;
const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]+$/;
const MAX_CIPHERTEXT = 6144;

/** KMS timestamps are epoch seconds. */
function seconds(ms: number): number {
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
    KeyState: s.state,
    Origin: s.origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: s.keySpec,
    KeySpec: s.keySpec,
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
    CurrentKeyMaterialId: key.materialIds[key.materialIds.length - 1],
  };
  if (s.state === 'PendingDeletion') {
    meta['DeletionDate'] = seconds(s.deletionDate ?? 0);
    meta['PendingDeletionWindowInDays'] = s.pendingWindowInDays;
  }
  return meta;
}

function dryRun(input: Input): void {
  if (optBool(input, 'DryRun') === true) {
    throw new KmsError('DryRunOperationException', DRY_RUN_MESSAGE, 412);
  }
}

/** A key that may encrypt or decrypt now: enabled, not pending deletion, ENCRYPT_DECRYPT. */
function usable(key: Key): Key {
  const s = key.stored;
  if (s.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
  if (s.state === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  if (s.keyUsage !== 'ENCRYPT_DECRYPT') {
    throw new KmsError(
      'InvalidKeyUsageException',
      `${key.arn} key usage is ${s.keyUsage} which is not valid for this operation.`,
    );
  }
  return key;
}

function symmetricAlgorithm(input: Input, name: string): 'SYMMETRIC_DEFAULT' {
  const alg = optEnum(input, name, ENCRYPTION_ALGORITHMS) ?? 'SYMMETRIC_DEFAULT';
  if (alg !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'InvalidKeyUsageException',
      `The encryption algorithm ${alg} is not valid for a SYMMETRIC_DEFAULT key.`,
    );
  }
  return alg;
}

function encryptUnder(key: Key, plaintext: Buffer, context: EncryptionContext | undefined): Buffer {
  const version = key.materials.length - 1;
  return sealBlob(key.materials[version]!, key.stored.id, version, plaintext, context);
}

const INVALID_CIPHERTEXT = (): KmsError =>
  new KmsError(
    'InvalidCiphertextException',
    'The ciphertext is invalid, was changed, or was encrypted under a different encryption context.',
  );

/** Decrypts a blob, checking it against `expected` (the caller's KeyId) when one was given. */
function decryptBlob(
  ctx: OpContext,
  blob: Buffer,
  context: EncryptionContext | undefined,
  expected: string | undefined,
  dry: boolean,
): { key: Key; plaintext: Buffer } {
  const wanted = expected === undefined ? undefined : ctx.store.resolve(ctx.region, expected);
  const header = readBlobHeader(blob);
  if (header === undefined) throw INVALID_CIPHERTEXT();
  const found = ctx.store.byId(ctx.region, header.keyId);
  if (found === undefined) throw INVALID_CIPHERTEXT();
  if (wanted !== undefined && wanted.stored.id !== found.stored.id) {
    throw new KmsError(
      'IncorrectKeyException',
      'The key ID in the request does not identify a KMS key that can perform this operation.',
    );
  }
  const key = usable(found);
  const material = key.materials[header.version];
  if (material === undefined) throw INVALID_CIPHERTEXT();
  const plaintext = openBlob(material, blob, context);
  if (plaintext === undefined) throw INVALID_CIPHERTEXT();
  if (dry) throw new KmsError('DryRunOperationException', DRY_RUN_MESSAGE, 412);
  return { key, plaintext };
}

function dataKeyLength(input: Input): number {
  const n = optInt(input, 'NumberOfBytes', 1, 1024);
  const spec = optEnum(input, 'KeySpec', ['AES_256', 'AES_128'] as const);
  if (n !== undefined && spec !== undefined) {
    throw validation('Please specify either number of bytes or key spec, not both.');
  }
  if (n === undefined && spec === undefined) {
    throw validation('Please specify either number of bytes or key spec.');
  }
  return n ?? (spec === 'AES_128' ? 16 : 32);
}

function noRecipient(input: Input): void {
  if (input['Recipient'] !== undefined && input['Recipient'] !== null) {
    throw new KmsError(
      'UnsupportedOperationException',
      'local-kms does not support Recipient (Nitro Enclaves attestation documents).',
    );
  }
}

function page<T>(
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

function aliasName(input: Input): string {
  const name = reqString(input, 'AliasName', 1, 256);
  if (!ALIAS_NAME.test(name)) {
    throw new KmsError(
      'ValidationException',
      `Alias name must match the pattern ${ALIAS_NAME.source}`,
    );
  }
  if (name.startsWith('alias/aws/')) {
    throw new KmsError(
      'InvalidAliasNameException',
      "Alias names beginning with 'alias/aws/' are reserved for AWS managed keys.",
    );
  }
  return name;
}

function notPendingDeletion(key: Key): Key {
  if (key.stored.state === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  return key;
}

/** The operations local-kms implements, by name. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  CreateKey(ctx, input) {
    const description = optString(input, 'Description', 0, 8192) ?? '';
    const keyUsage = optEnum(input, 'KeyUsage', KEY_USAGES) ?? 'ENCRYPT_DECRYPT';
    const keySpec =
      optEnum(input, 'KeySpec', KEY_SPECS) ??
      optEnum(input, 'CustomerMasterKeySpec', KEY_SPECS) ??
      'SYMMETRIC_DEFAULT';
    const origin = optEnum(input, 'Origin', ORIGINS) ?? 'AWS_KMS';
    const policy = optString(input, 'Policy', 1, 32_768) ?? '';
    optBool(input, 'BypassPolicyLockoutSafetyCheck');
    if (optString(input, 'CustomKeyStoreId', 1, 64) !== undefined) {
      throw new KmsError('CustomKeyStoreNotFoundException', 'local-kms has no custom key stores.');
    }
    if (keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError(
        'UnsupportedOperationException',
        `local-kms does not support KeySpec ${keySpec} yet.`,
      );
    }
    if (keyUsage !== 'ENCRYPT_DECRYPT') {
      throw validation(`KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}.`);
    }
    if (origin !== 'AWS_KMS') {
      throw new KmsError(
        'UnsupportedOperationException',
        `local-kms does not support Origin ${origin}.`,
      );
    }
    if (optBool(input, 'MultiRegion') === true) {
      throw new KmsError(
        'UnsupportedOperationException',
        'local-kms does not support multi-Region keys yet.',
      );
    }
    const tags = parseTags(input);
    const key = ctx.store.createKey({
      region: ctx.region,
      description,
      keyUsage,
      keySpec,
      origin,
      state: 'Enabled',
      policy,
      tags,
    });
    return { KeyMetadata: keyMetadata(ctx.store, key) };
  },

  DescribeKey(ctx, input) {
    checkGrantTokens(input);
    const key = ctx.store.resolve(ctx.region, reqString(input, 'KeyId'));
    return { KeyMetadata: keyMetadata(ctx.store, key) };
  },

  ListKeys(ctx, input) {
    const { page: keys, next } = page(
      ctx.store.keys(ctx.region),
      input,
      100,
      1000,
      (k) => k.stored.id,
    );
    return {
      Keys: keys.map((k) => ({ KeyId: k.stored.id, KeyArn: k.arn })),
      Truncated: next !== undefined,
      ...(next === undefined ? {} : { NextMarker: next }),
    };
  },

  EnableKey(ctx, input) {
    const key = notPendingDeletion(ctx.store.resolve(ctx.region, reqString(input, 'KeyId'), false));
    if (key.stored.state !== 'Enabled') ctx.store.updateKey(key, { state: 'Enabled' });
    return {};
  },

  DisableKey(ctx, input) {
    const key = notPendingDeletion(ctx.store.resolve(ctx.region, reqString(input, 'KeyId'), false));
    if (key.stored.state !== 'Disabled') ctx.store.updateKey(key, { state: 'Disabled' });
    return {};
  },

  ScheduleKeyDeletion(ctx, input) {
    const key = ctx.store.resolve(ctx.region, reqString(input, 'KeyId'), false);
    const days = optInt(input, 'PendingWindowInDays', 7, 30) ?? 30;
    notPendingDeletion(key);
    const deletionDate = ctx.now + days * DAY_MS;
    ctx.store.updateKey(key, {
      state: 'PendingDeletion',
      deletionDate,
      pendingWindowInDays: days,
    });
    return {
      KeyId: key.arn,
      DeletionDate: seconds(deletionDate),
      KeyState: 'PendingDeletion',
      PendingWindowInDays: days,
    };
  },

  CancelKeyDeletion(ctx, input) {
    const key = ctx.store.resolve(ctx.region, reqString(input, 'KeyId'), false);
    if (key.stored.state !== 'PendingDeletion') {
      throw new KmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
    }
    ctx.store.updateKey(key, { state: 'Disabled' });
    return { KeyId: key.arn };
  },

  UpdateKeyDescription(ctx, input) {
    const key = notPendingDeletion(ctx.store.resolve(ctx.region, reqString(input, 'KeyId'), false));
    const description = reqString(input, 'Description', 0, 8192);
    ctx.store.updateKey(key, { description });
    return {};
  },

  CreateAlias(ctx, input) {
    const name = aliasName(input);
    const key = notPendingDeletion(
      ctx.store.resolve(ctx.region, reqString(input, 'TargetKeyId'), false),
    );
    if (ctx.store.alias(ctx.region, name) !== undefined) {
      throw new KmsError(
        'AlreadyExistsException',
        `An alias with the name ${ctx.store.aliasArn(ctx.region, name)} already exists`,
      );
    }
    ctx.store.putAlias(ctx.region, name, key.stored.id);
    return {};
  },

  UpdateAlias(ctx, input) {
    const name = aliasName(input);
    const key = notPendingDeletion(
      ctx.store.resolve(ctx.region, reqString(input, 'TargetKeyId'), false),
    );
    if (ctx.store.alias(ctx.region, name) === undefined) {
      throw new KmsError(
        'NotFoundException',
        `Alias ${ctx.store.aliasArn(ctx.region, name)} is not found.`,
      );
    }
    ctx.store.putAlias(ctx.region, name, key.stored.id);
    return {};
  },

  DeleteAlias(ctx, input) {
    const name = aliasName(input);
    if (ctx.store.alias(ctx.region, name) === undefined) {
      throw new KmsError(
        'NotFoundException',
        `Alias ${ctx.store.aliasArn(ctx.region, name)} is not found.`,
      );
    }
    ctx.store.deleteAlias(ctx.region, name);
    return {};
  },

  ListAliases(ctx, input) {
    const ref = optString(input, 'KeyId');
    let aliases = ctx.store.aliases(ctx.region);
    if (ref !== undefined) {
      const key = ctx.store.resolve(ctx.region, ref, false);
      aliases = aliases.filter((a) => a.stored.targetKeyId === key.stored.id);
    }
    const { page: items, next } = page(aliases, input, 50, 100, (a) => a.stored.name);
    return {
      Aliases: items.map((a) => ({
        AliasName: a.stored.name,
        AliasArn: a.arn,
        TargetKeyId: a.stored.targetKeyId,
        CreationDate: seconds(a.stored.creationDate),
        LastUpdatedDate: seconds(a.stored.lastUpdatedDate),
      })),
      Truncated: next !== undefined,
      ...(next === undefined ? {} : { NextMarker: next }),
    };
  },

  Encrypt(ctx, input) {
    const key = usable(ctx.store.resolve(ctx.region, reqString(input, 'KeyId')));
    const plaintext = reqBlob(input, 'Plaintext', 1, 4096);
    const context = optContext(input, 'EncryptionContext');
    const alg = symmetricAlgorithm(input, 'EncryptionAlgorithm');
    checkGrantTokens(input);
    dryRun(input);
    return {
      CiphertextBlob: encryptUnder(key, plaintext, context).toString('base64'),
      KeyId: key.arn,
      EncryptionAlgorithm: alg,
    };
  },

  Decrypt(ctx, input) {
    const blob = reqBlob(input, 'CiphertextBlob', 1, MAX_CIPHERTEXT);
    const context = optContext(input, 'EncryptionContext');
    const alg = symmetricAlgorithm(input, 'EncryptionAlgorithm');
    checkGrantTokens(input);
    noRecipient(input);
    const dry = optBool(input, 'DryRun') === true;
    const { key, plaintext } = decryptBlob(ctx, blob, context, optString(input, 'KeyId'), dry);
    const version = readBlobHeader(blob)?.version ?? 0;
    return {
      KeyId: key.arn,
      Plaintext: plaintext.toString('base64'),
      EncryptionAlgorithm: alg,
      KeyMaterialId: key.materialIds[version],
    };
  },

  ReEncrypt(ctx, input) {
    const blob = reqBlob(input, 'CiphertextBlob', 1, MAX_CIPHERTEXT);
    const sourceContext = optContext(input, 'SourceEncryptionContext');
    const destinationContext = optContext(input, 'DestinationEncryptionContext');
    const sourceAlg = symmetricAlgorithm(input, 'SourceEncryptionAlgorithm');
    const destinationAlg = symmetricAlgorithm(input, 'DestinationEncryptionAlgorithm');
    checkGrantTokens(input);
    const destination = usable(ctx.store.resolve(ctx.region, reqString(input, 'DestinationKeyId')));
    const dry = optBool(input, 'DryRun') === true;
    const { key: source, plaintext } = decryptBlob(
      ctx,
      blob,
      sourceContext,
      optString(input, 'SourceKeyId'),
      dry,
    );
    const version = readBlobHeader(blob)?.version ?? 0;
    const out = encryptUnder(destination, plaintext, destinationContext);
    plaintext.fill(0);
    return {
      CiphertextBlob: out.toString('base64'),
      SourceKeyId: source.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: sourceAlg,
      DestinationEncryptionAlgorithm: destinationAlg,
      SourceKeyMaterialId: source.materialIds[version],
      DestinationKeyMaterialId: destination.materialIds[destination.materialIds.length - 1],
    };
  },

  GenerateDataKey(ctx, input) {
    const key = usable(ctx.store.resolve(ctx.region, reqString(input, 'KeyId')));
    const length = dataKeyLength(input);
    const context = optContext(input, 'EncryptionContext');
    checkGrantTokens(input);
    noRecipient(input);
    dryRun(input);
    const plaintext = randomBuffer(length);
    return {
      CiphertextBlob: encryptUnder(key, plaintext, context).toString('base64'),
      Plaintext: plaintext.toString('base64'),
      KeyId: key.arn,
      KeyMaterialId: key.materialIds[key.materialIds.length - 1],
    };
  },

  GenerateDataKeyWithoutPlaintext(ctx, input) {
    const key = usable(ctx.store.resolve(ctx.region, reqString(input, 'KeyId')));
    const length = dataKeyLength(input);
    const context = optContext(input, 'EncryptionContext');
    checkGrantTokens(input);
    dryRun(input);
    const plaintext = randomBuffer(length);
    const blob = encryptUnder(key, plaintext, context);
    plaintext.fill(0);
    return {
      CiphertextBlob: blob.toString('base64'),
      KeyId: key.arn,
      KeyMaterialId: key.materialIds[key.materialIds.length - 1],
    };
  },

  GenerateRandom(_ctx, input) {
    const n = optInt(input, 'NumberOfBytes', 1, 1024);
    if (optString(input, 'CustomKeyStoreId', 1, 64) !== undefined) {
      throw new KmsError('CustomKeyStoreNotFoundException', 'local-kms has no custom key stores.');
    }
    noRecipient(input);
    if (n === undefined) throw validation('Please specify the number of bytes.');
    return { Plaintext: randomBuffer(n).toString('base64') };
  },
};

function parseTags(input: Input): { TagKey: string; TagValue: string }[] {
  const v = input['Tags'];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new KmsError('SerializationException', 'Tags must be a list');
  return v.map((t: unknown) => {
    const tag = (t ?? {}) as Record<string, unknown>;
    if (typeof tag['TagKey'] !== 'string' || typeof tag['TagValue'] !== 'string') {
      throw new KmsError('TagException', 'Each tag needs a string TagKey and TagValue.');
    }
    return { TagKey: tag['TagKey'], TagValue: tag['TagValue'] };
  });
}
