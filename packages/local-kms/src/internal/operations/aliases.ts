import { KmsError } from '../errors.js';
import { optString, reqString, type Input } from '../input.js';
import { notPendingDeletion, page, pageTail, seconds, type Handler } from './shared.js';

const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]+$/;

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

/** CreateAlias, UpdateAlias, DeleteAlias, ListAliases. Targets are key ids or key ARNs, as in KMS. */
export const ALIAS_HANDLERS: Readonly<Record<string, Handler>> = {
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
    const current = ctx.store.alias(ctx.region, name);
    if (current === undefined) {
      throw new KmsError(
        'NotFoundException',
        `Alias ${ctx.store.aliasArn(ctx.region, name)} is not found.`,
      );
    }
    const old = ctx.store.byId(ctx.region, current.stored.targetKeyId);
    if (
      old !== undefined &&
      (old.stored.keySpec !== key.stored.keySpec || old.stored.keyUsage !== key.stored.keyUsage)
    ) {
      throw new KmsError(
        'ValidationException',
        'An alias can only move to a key of the same key spec and key usage.',
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
      ...pageTail(next),
    };
  },
};
