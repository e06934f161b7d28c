import { defaultQuota, type QuotaPool, type QuotaProfile } from './table.js';

/**
 * The one quota option shape shared by `@steadykms/local-kms` (what the server enforces) and the client
 * plugin (what it paces to).
 *
 * - `profile`: which dated table to start from. @defaultValue `'current'`
 * - `scale`: multiplies every default, e.g. `0.01` turns 10,000 rps into 100, so a benchmark can hit a
 *   real-shaped quota on one machine. Overrides are not scaled. @defaultValue `1`
 * - `overrides`: requests per second for a pool, e.g. `{ symmetric: 200, 'control/CreateKey': 1 }`; an
 *   account with a raised quota states it here.
 */
export interface QuotaOptions {
  readonly profile?: QuotaProfile;
  readonly scale?: number;
  readonly overrides?: Readonly<Partial<Record<QuotaPool, number>>>;
}

/** `false` turns quotas off; `undefined` means the current defaults. */
export type QuotasSetting = QuotaOptions | false | undefined;

/** A resolved quota lookup: requests per second for a pool in a region, or `Infinity` when unlimited. */
export type QuotaLookup = (pool: QuotaPool, region: string) => number;

/** Validates a quota setting, throwing a `RangeError` naming the option that is wrong. */
export function validateQuotas(setting: QuotasSetting): void {
  if (setting === false || setting === undefined) return;
  const { profile, scale, overrides } = setting;
  if (profile !== undefined && profile !== 'current' && profile !== '2022') {
    throw new RangeError(`quotas.profile must be 'current' or '2022', got ${String(profile)}`);
  }
  if (scale !== undefined && !(Number.isFinite(scale) && scale > 0)) {
    throw new RangeError(`quotas.scale must be a finite number above 0, got ${String(scale)}`);
  }
  for (const [pool, rps] of Object.entries(overrides ?? {})) {
    if (typeof rps !== 'number' || !(rps > 0)) {
      throw new RangeError(
        `quotas.overrides['${pool}'] must be a number of requests per second above 0`,
      );
    }
  }
}

/**
 * Turns a quota setting into a lookup. Unknown pools fall back to their family's default (an unknown
 * control operation gets 5 rps, the lowest common control quota) so nothing is ever unlimited by accident.
 */
export function resolveQuotas(setting: QuotasSetting): QuotaLookup {
  validateQuotas(setting);
  if (setting === false) return () => Number.POSITIVE_INFINITY;
  const profile = setting?.profile ?? 'current';
  const scale = setting?.scale ?? 1;
  const overrides: Readonly<Partial<Record<string, number>>> = setting?.overrides ?? {};
  return (pool, region) => {
    const override = overrides[pool];
    if (override !== undefined) return override;
    const base = defaultQuota(pool, region, profile) ?? (pool.startsWith('data-key-pair/') ? 1 : 5);
    return base * scale;
  };
}
