import { randomBytes } from 'node:crypto';
import { KmsError, serialization, validation } from '../errors.js';
import { checkGrantTokens, optContext, optString, reqString, type Input } from '../input.js';
import type { StoredGrant } from '../Journal.js';
import type { Key } from '../KeyStore.js';
import {
  dryRun,
  notPendingDeletion,
  page,
  pageTail,
  seconds,
  type Handler,
  type OpContext,
} from './shared.js';

const GRANT_OPERATIONS = new Set([
  'CreateGrant',
  'Decapsulate',
  'Decrypt',
  'DeriveSharedSecret',
  'DescribeKey',
  'Encapsulate',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'GetPublicKey',
  'ReEncryptFrom',
  'ReEncryptTo',
  'RetireGrant',
  'Sign',
  'Verify',
  'VerifyMac',
]);
/** KMS's default cap on grants per key. */
const MAX_GRANTS_PER_KEY = 50_000;

const keyOnly = (ctx: OpContext, input: Input): Key =>
  ctx.store.resolve(ctx.region, reqString(input, 'KeyId'), false);

function entry(key: Key, g: StoredGrant, accountId: string): Record<string, unknown> {
  const { GrantToken: _token, CreationDate, ...rest } = g;
  return {
    KeyId: key.arn,
    ...rest,
    CreationDate: seconds(CreationDate),
    IssuingAccount: `arn:aws:iam::${accountId}:root`,
  };
}

function withoutGrant(ctx: OpContext, key: Key, grantId: string): void {
  const grants = key.stored.grants ?? [];
  if (!grants.some((g) => g.GrantId === grantId)) {
    throw new KmsError('NotFoundException', `Grant ${grantId} does not exist on ${key.arn}.`);
  }
  ctx.store.updateKey(key, { grants: grants.filter((g) => g.GrantId !== grantId) });
}

/**
 * CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant. Grants are recorded and
 * listed like KMS's (persisted with their key) but not enforced: local-kms does not evaluate access.
 */
export const GRANT_HANDLERS: Readonly<Record<string, Handler>> = {
  CreateGrant(ctx, input) {
    const key = notPendingDeletion(keyOnly(ctx, input));
    const grantee = reqString(input, 'GranteePrincipal', 1, 256);
    const retiring = optString(input, 'RetiringPrincipal', 1, 256);
    const name = optString(input, 'Name', 1, 256);
    const ops = input['Operations'];
    if (!Array.isArray(ops) || ops.some((o) => typeof o !== 'string')) {
      throw serialization('Operations must be a list of strings');
    }
    if (ops.length === 0) throw validation('Operations must name at least one operation.');
    for (const o of ops as string[]) {
      if (!GRANT_OPERATIONS.has(o))
        throw validation(`Operations contains an unknown operation ${o}.`);
    }
    const c = input['Constraints'];
    let constraints: Record<string, unknown> | undefined;
    if (c !== undefined && c !== null) {
      if (typeof c !== 'object' || Array.isArray(c))
        throw serialization('Constraints must be an object');
      const subset = optContext(c as Input, 'EncryptionContextSubset');
      const equals = optContext(c as Input, 'EncryptionContextEquals');
      constraints = {
        ...(subset === undefined ? {} : { EncryptionContextSubset: subset }),
        ...(equals === undefined ? {} : { EncryptionContextEquals: equals }),
      };
    }
    checkGrantTokens(input);
    const grants = key.stored.grants ?? [];
    // KMS returns the existing grant for an identical named request (idempotent retries).
    const same = grants.find(
      (g) =>
        name !== undefined &&
        g.Name === name &&
        g.GranteePrincipal === grantee &&
        JSON.stringify(g.Operations) === JSON.stringify(ops),
    );
    dryRun(input);
    if (same !== undefined) return { GrantToken: same.GrantToken, GrantId: same.GrantId };
    if (grants.length >= MAX_GRANTS_PER_KEY) {
      throw new KmsError(
        'LimitExceededException',
        `${key.arn} has ${MAX_GRANTS_PER_KEY} grants already.`,
      );
    }
    const grant: StoredGrant = {
      GrantId: randomBytes(32).toString('hex'),
      GrantToken: `lkgt-${randomBytes(48).toString('base64url')}`,
      CreationDate: ctx.now,
      GranteePrincipal: grantee,
      Operations: ops as string[],
      ...(name === undefined ? {} : { Name: name }),
      ...(retiring === undefined ? {} : { RetiringPrincipal: retiring }),
      ...(constraints === undefined ? {} : { Constraints: constraints }),
    };
    ctx.store.updateKey(key, { grants: [...grants, grant] });
    return { GrantToken: grant.GrantToken, GrantId: grant.GrantId };
  },

  ListGrants(ctx, input) {
    const key = keyOnly(ctx, input);
    const grantId = optString(input, 'GrantId', 1, 128);
    const grantee = optString(input, 'GranteePrincipal', 1, 256);
    const grants = (key.stored.grants ?? []).filter(
      (g) =>
        (grantId === undefined || g.GrantId === grantId) &&
        (grantee === undefined || g.GranteePrincipal === grantee),
    );
    const { page: items, next } = page(grants, input, 50, 100, (g) => g.GrantId);
    return { Grants: items.map((g) => entry(key, g, ctx.store.accountId)), ...pageTail(next) };
  },

  ListRetirableGrants(ctx, input) {
    const principal = reqString(input, 'RetiringPrincipal', 1, 256);
    const all = ctx.store
      .keys(ctx.region)
      .flatMap((k) =>
        (k.stored.grants ?? [])
          .filter((g) => g.RetiringPrincipal === principal)
          .map((g) => ({ k, g })),
      );
    const { page: items, next } = page(all, input, 50, 100, (x) => x.g.GrantId);
    return { Grants: items.map(({ k, g }) => entry(k, g, ctx.store.accountId)), ...pageTail(next) };
  },

  RetireGrant(ctx, input) {
    const token = optString(input, 'GrantToken', 1, 8192);
    if (token !== undefined) {
      for (const key of ctx.store.keys(ctx.region)) {
        const g = (key.stored.grants ?? []).find((x) => x.GrantToken === token);
        if (g !== undefined) {
          dryRun(input);
          withoutGrant(ctx, key, g.GrantId);
          return {};
        }
      }
      throw new KmsError('InvalidGrantTokenException', 'The grant token is not valid.');
    }
    const key = keyOnly(ctx, input);
    const grantId = reqString(input, 'GrantId', 1, 128);
    dryRun(input);
    withoutGrant(ctx, key, grantId);
    return {};
  },

  RevokeGrant(ctx, input) {
    const key = keyOnly(ctx, input);
    const grantId = reqString(input, 'GrantId', 1, 128);
    dryRun(input);
    withoutGrant(ctx, key, grantId);
    return {};
  },
};
