import { KmsError, validation } from '../errors.js';
import {
  checkGrantTokens,
  optBool,
  optEnum,
  optInt,
  optString,
  reqString,
  type Input,
} from '../input.js';
import { KEY_SPECS, type KeyUsage } from '../keySpecs.js';
import { createKeyStoreId } from './keyStores.js';
import type { Key } from '../KeyStore.js';
import {
  DAY_MS,
  keyMetadata,
  notPendingDeletion,
  notReplica,
  page,
  pageTail,
  seconds,
  type Handler,
  type OpContext,
} from './shared.js';

const KEY_USAGES = [
  'ENCRYPT_DECRYPT',
  'SIGN_VERIFY',
  'GENERATE_VERIFY_MAC',
  'KEY_AGREEMENT',
] as const;
const ALL_KEY_SPECS = [
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
const MAX_TAGS = 50;

type Tag = { TagKey: string; TagValue: string };

function parseTags(input: Input): Tag[] {
  const v = input['Tags'];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new KmsError('SerializationException', 'Tags must be a list');
  return v.map((t: unknown) => {
    const tag = (t ?? {}) as Record<string, unknown>;
    const key = tag['TagKey'];
    const value = tag['TagValue'];
    if (typeof key !== 'string' || typeof value !== 'string') {
      throw new KmsError('TagException', 'Each tag needs a string TagKey and TagValue.');
    }
    if (key.length < 1 || key.length > 128 || value.length > 256) {
      throw new KmsError('TagException', 'Tag keys are 1 to 128 characters, values 0 to 256.');
    }
    if (key.startsWith('aws:')) {
      throw new KmsError('TagException', "Tag keys beginning with 'aws:' are reserved.");
    }
    return { TagKey: key, TagValue: value };
  });
}

function mergeTags(current: readonly Tag[], added: readonly Tag[]): Tag[] {
  const map = new Map(current.map((t) => [t.TagKey, t.TagValue]));
  for (const t of added) map.set(t.TagKey, t.TagValue);
  if (map.size > MAX_TAGS) {
    throw new KmsError('LimitExceededException', `A KMS key can have at most ${MAX_TAGS} tags.`);
  }
  return [...map].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}

/** KMS's default key policy: the account root may do everything, so IAM policies decide. */
function defaultPolicy(accountId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}

function policyDocument(input: Input, required: boolean): string | undefined {
  const policy = required
    ? reqString(input, 'Policy', 1, 32_768)
    : optString(input, 'Policy', 1, 32_768);
  if (policy === undefined) return undefined;
  try {
    const doc: unknown = JSON.parse(policy);
    if (typeof doc !== 'object' || doc === null || !('Statement' in doc)) throw new Error('shape');
  } catch {
    throw new KmsError(
      'MalformedPolicyDocumentException',
      'The policy is not a JSON policy document.',
    );
  }
  return policy;
}

function policyName(input: Input): void {
  const name = optString(input, 'PolicyName', 1, 128);
  if (name !== undefined && name !== 'default') {
    throw new KmsError('NotFoundException', `No such key policy: ${name}`);
  }
}

const keyOnly = (ctx: OpContext, input: Input): Key =>
  ctx.store.resolve(ctx.region, reqString(input, 'KeyId'), false);

/** Key lifecycle, multi-Region replication, tags and policies. */
export const KEY_HANDLERS: Readonly<Record<string, Handler>> = {
  CreateKey(ctx, input) {
    const description = optString(input, 'Description', 0, 8192) ?? '';
    const keySpec =
      optEnum(input, 'KeySpec', ALL_KEY_SPECS) ??
      optEnum(input, 'CustomerMasterKeySpec', ALL_KEY_SPECS) ??
      'SYMMETRIC_DEFAULT';
    const keyUsage: string = optEnum(input, 'KeyUsage', KEY_USAGES) ?? 'ENCRYPT_DECRYPT';
    const origin = optEnum(input, 'Origin', ORIGINS) ?? 'AWS_KMS';
    const policy = policyDocument(input, false) ?? '';
    optBool(input, 'BypassPolicyLockoutSafetyCheck');
    const customKeyStoreId = createKeyStoreId(ctx, input);
    const info = KEY_SPECS.get(keySpec);
    if (info === undefined) {
      throw new KmsError(
        'UnsupportedOperationException',
        `local-kms cannot create ${keySpec} keys (node:crypto on this Node lacks them).`,
      );
    }
    if (!info.usages.includes(keyUsage as KeyUsage)) {
      throw validation(`KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}.`);
    }
    if (customKeyStoreId !== undefined) {
      if (origin !== 'AWS_CLOUDHSM' || keySpec !== 'SYMMETRIC_DEFAULT') {
        throw validation(
          'Keys in a CloudHSM key store need Origin AWS_CLOUDHSM and KeySpec SYMMETRIC_DEFAULT.',
        );
      }
    } else if (origin === 'AWS_CLOUDHSM') {
      throw validation('Origin AWS_CLOUDHSM needs a CustomKeyStoreId.');
    } else if (origin !== 'AWS_KMS') {
      throw new KmsError(
        'UnsupportedOperationException',
        `local-kms does not support Origin ${origin}.`,
      );
    }
    const multiRegion = optBool(input, 'MultiRegion') === true;
    const tags = mergeTags([], parseTags(input));
    const key = ctx.store.createKey({
      region: ctx.region,
      description,
      keyUsage,
      keySpec,
      origin,
      state: 'Enabled',
      policy,
      tags,
      ...(multiRegion ? { multiRegion: { primaryRegion: ctx.region, regions: [ctx.region] } } : {}),
      ...(customKeyStoreId === undefined ? {} : { customKeyStoreId }),
    });
    return { KeyMetadata: keyMetadata(ctx.store, key) };
  },

  ReplicateKey(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    const replicaRegion = reqString(input, 'ReplicaRegion', 1, 32);
    if (!/^[a-z]+-[a-z]+(?:-[a-z]+)?-\d+$/.test(replicaRegion)) {
      throw validation(`ReplicaRegion ${replicaRegion} is not a region name.`);
    }
    if (key.stored.multiRegion === undefined) {
      throw new KmsError('UnsupportedOperationException', `${key.arn} is not a multi-Region key.`);
    }
    notReplica(key);
    if (replicaRegion === ctx.region) {
      throw validation('ReplicaRegion must differ from the region of the primary key.');
    }
    if (ctx.store.byId(replicaRegion, key.stored.id) !== undefined) {
      throw new KmsError(
        'AlreadyExistsException',
        `${ctx.store.keyArn(replicaRegion, key.stored.id)} already exists.`,
      );
    }
    const policy = policyDocument(input, false) ?? key.stored.policy;
    optBool(input, 'BypassPolicyLockoutSafetyCheck');
    const replica = ctx.store.replicate(key, replicaRegion, {
      description: optString(input, 'Description', 0, 8192) ?? key.stored.description,
      policy,
      tags: input['Tags'] === undefined ? key.stored.tags : mergeTags([], parseTags(input)),
    });
    return {
      ReplicaKeyMetadata: keyMetadata(ctx.store, replica),
      ReplicaPolicy: policy === '' ? defaultPolicy(ctx.store.accountId) : policy,
      ReplicaTags: replica.stored.tags,
    };
  },

  UpdatePrimaryRegion(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    const region = reqString(input, 'PrimaryRegion', 1, 32);
    if (key.stored.multiRegion === undefined) {
      throw new KmsError('UnsupportedOperationException', `${key.arn} is not a multi-Region key.`);
    }
    notReplica(key);
    if (ctx.store.byId(region, key.stored.id) === undefined) {
      throw new KmsError(
        'NotFoundException',
        `Key '${ctx.store.keyArn(region, key.stored.id)}' does not exist`,
      );
    }
    ctx.store.setPrimaryRegion(key, region);
    return {};
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
    return { Keys: keys.map((k) => ({ KeyId: k.stored.id, KeyArn: k.arn })), ...pageTail(next) };
  },

  EnableKey(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    if (key.stored.state !== 'Enabled') ctx.store.updateKey(key, { state: 'Enabled' });
    return {};
  },

  DisableKey(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    if (key.stored.state !== 'Disabled') ctx.store.updateKey(key, { state: 'Disabled' });
    return {};
  },

  ScheduleKeyDeletion(ctx, input) {
    const key = keyOnly(ctx, input);
    const days = optInt(input, 'PendingWindowInDays', 7, 30) ?? 30;
    notPendingDeletion(key);
    const deletionDate = ctx.now + days * DAY_MS;
    ctx.store.updateKey(key, { state: 'PendingDeletion', deletionDate, pendingWindowInDays: days });
    return {
      KeyId: key.arn,
      DeletionDate: seconds(deletionDate),
      KeyState: 'PendingDeletion',
      PendingWindowInDays: days,
    };
  },

  CancelKeyDeletion(ctx, input) {
    const key = keyOnly(ctx, input);
    if (key.stored.state !== 'PendingDeletion') {
      throw new KmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
    }
    ctx.store.updateKey(key, { state: 'Disabled' });
    return { KeyId: key.arn };
  },

  UpdateKeyDescription(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    const description = reqString(input, 'Description', 0, 8192);
    ctx.store.updateKey(key, { description });
    return {};
  },

  TagResource(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    const added = parseTags(input);
    if (added.length === 0) throw validation('Tags must not be empty.');
    ctx.store.updateKey(key, { tags: mergeTags(key.stored.tags, added) });
    return {};
  },

  UntagResource(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    const keys = input['TagKeys'];
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) {
      throw new KmsError('SerializationException', 'TagKeys must be a list of strings');
    }
    const drop = new Set(keys as string[]);
    ctx.store.updateKey(key, { tags: key.stored.tags.filter((t) => !drop.has(t.TagKey)) });
    return {};
  },

  ListResourceTags(ctx, input) {
    const key = keyOnly(ctx, input);
    const { page: tags, next } = page(key.stored.tags, input, 50, 50, (t) => t.TagKey);
    return { Tags: tags, ...pageTail(next) };
  },

  GetKeyPolicy(ctx, input) {
    const key = keyOnly(ctx, input);
    policyName(input);
    return {
      Policy: key.stored.policy === '' ? defaultPolicy(ctx.store.accountId) : key.stored.policy,
      PolicyName: 'default',
    };
  },

  PutKeyPolicy(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    policyName(input);
    optBool(input, 'BypassPolicyLockoutSafetyCheck');
    const policy = policyDocument(input, true) ?? '';
    ctx.store.updateKey(key, { policy });
    return {};
  },

  ListKeyPolicies(ctx, input) {
    keyOnly(ctx, input);
    optInt(input, 'Limit', 1, 1000);
    return { PolicyNames: ['default'], Truncated: false };
  },
};
