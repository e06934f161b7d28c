import { KmsError } from '../errors.js';
import { optInt, optString, reqString, type Input } from '../input.js';
import type { Key } from '../KeyStore.js';
import {
  DAY_MS,
  notPendingDeletion,
  notReplica,
  page,
  pageTail,
  seconds,
  type Handler,
  type OpContext,
} from './shared.js';

/** KMS's documented cap on on-demand rotations of one key. */
export const MAX_ON_DEMAND_ROTATIONS = 10;

/** A symmetric encryption key, the only kind KMS rotates. */
function rotatable(key: Key): Key {
  if (key.stored.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'UnsupportedOperationException',
      `${key.arn} is not a symmetric encryption key; only those can be rotated.`,
    );
  }
  return key;
}

function enabled(key: Key): Key {
  notPendingDeletion(key);
  if (key.stored.state === 'Disabled')
    throw new KmsError('DisabledException', `${key.arn} is disabled.`);
  return key;
}

const keyOnly = (ctx: OpContext, input: Input): Key =>
  ctx.store.resolve(ctx.region, reqString(input, 'KeyId'), false);

/**
 * EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations.
 * Rotation settings and rotations of a multi-Region key are made on its primary and apply to every copy.
 */
export const ROTATION_HANDLERS: Readonly<Record<string, Handler>> = {
  EnableKeyRotation(ctx, input) {
    const key = notReplica(rotatable(enabled(keyOnly(ctx, input))));
    const period = optInt(input, 'RotationPeriodInDays', 90, 2560) ?? 365;
    for (const copy of ctx.store.copies(key)) {
      ctx.store.updateKey(copy, {
        rotationEnabled: true,
        rotationPeriodInDays: period,
        nextRotationDate: ctx.now + period * DAY_MS,
      });
    }
    return {};
  },

  DisableKeyRotation(ctx, input) {
    const key = notReplica(rotatable(enabled(keyOnly(ctx, input))));
    for (const copy of ctx.store.copies(key)) ctx.store.updateKey(copy, { rotationEnabled: false });
    return {};
  },

  GetKeyRotationStatus(ctx, input) {
    const key = keyOnly(ctx, input);
    const s = key.stored;
    if (s.rotationEnabled !== true) return { KeyRotationEnabled: false, KeyId: key.arn };
    return {
      KeyRotationEnabled: true,
      KeyId: key.arn,
      RotationPeriodInDays: s.rotationPeriodInDays,
      NextRotationDate: seconds(s.nextRotationDate ?? 0),
    };
  },

  RotateKeyOnDemand(ctx, input) {
    const key = notReplica(rotatable(enabled(keyOnly(ctx, input))));
    const done = (key.stored.rotations ?? []).filter((r) => r.type === 'ON_DEMAND').length;
    if (done >= MAX_ON_DEMAND_ROTATIONS) {
      throw new KmsError(
        'LimitExceededException',
        `${key.arn} has reached the limit of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations.`,
      );
    }
    ctx.store.rotateKey(key, 'ON_DEMAND');
    return { KeyId: key.arn };
  },

  ListKeyRotations(ctx, input) {
    const key = keyOnly(ctx, input);
    if (key.stored.keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError('UnsupportedOperationException', `${key.arn} has no rotations.`);
    }
    optString(input, 'IncludeKeyMaterial', 1, 64);
    const entries = (key.stored.rotations ?? []).map((r, i) => ({
      KeyId: key.arn,
      KeyMaterialId: key.materialIds[i + 1],
      RotationDate: seconds(r.date),
      RotationType: r.type,
    }));
    const { page: rotations, next } = page(entries, input, 100, 1000, (r) => r.KeyMaterialId ?? '');
    return { Rotations: rotations, ...pageTail(next) };
  },
};
