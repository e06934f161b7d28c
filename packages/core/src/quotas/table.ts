/**
 * The AWS KMS request-quota table as data.
 *
 * Source: AWS KMS Developer Guide, "Request quotas" and "Throttling AWS KMS requests" (see DESIGN §4).
 * Every figure is requests per second, per account, per region, counted in one-second windows. Each
 * pool is independent of the others. Every number is a default that configuration may override:
 * quotas are adjustable per account.
 */

/** Dated profiles of the default table. `current` is today's; `2022` is the December 2022 table. */
export type QuotaProfile = 'current' | '2022';

/** The profiles and the date each one describes. */
export const QUOTA_PROFILES: Readonly<Record<QuotaProfile, { readonly asOf: string }>> = {
  current: { asOf: '2025-06-01' },
  '2022': { asOf: '2022-12-01' },
};

/** Key-pair specs accepted by GenerateDataKeyPair, each of which has its own pool. */
export const DATA_KEY_PAIR_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
  'SM2',
] as const;

/**
 * A quota pool. Crypto pools are shared by several operations; `control/<Operation>` pools belong to one
 * management operation each.
 */
export type QuotaPool =
  | 'symmetric'
  | 'rsa'
  | 'ecc'
  | 'ml-dsa'
  | 'ml-kem'
  | `data-key-pair/${string}`
  | `custom-key-store/${string}`
  | `control/${string}`;

/** Regions whose symmetric quota is raised to the middle tier (20,000 rps today). */
export const SYMMETRIC_TIER2_REGIONS: readonly string[] = [
  'us-east-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-northeast-1',
  'eu-central-1',
  'eu-west-2',
];

/** Regions whose symmetric quota is raised to the top tier (100,000 rps today). */
export const SYMMETRIC_TIER3_REGIONS: readonly string[] = ['us-east-1', 'us-west-2', 'eu-west-1'];

/** Symmetric rps by tier (default, tier 2, tier 3) for each profile. */
export const SYMMETRIC_RPS: Readonly<Record<QuotaProfile, readonly [number, number, number]>> = {
  current: [10_000, 20_000, 100_000],
  '2022': [5_500, 10_000, 50_000],
};

/** Asymmetric crypto pools per profile, in rps. */
export const ASYMMETRIC_RPS: Readonly<
  Record<
    QuotaProfile,
    {
      readonly rsa: number;
      readonly ecc: number;
      readonly 'ml-dsa': number;
      readonly 'ml-kem': number;
    }
  >
> = {
  current: { rsa: 1_000, ecc: 1_000, 'ml-dsa': 1_000, 'ml-kem': 1_000 },
  '2022': { rsa: 500, ecc: 300, 'ml-dsa': 300, 'ml-kem': 300 },
};

/** GenerateDataKeyPair(+WithoutPlaintext) rps per key-pair spec, outside and inside China. */
export const DATA_KEY_PAIR_RPS: Readonly<
  Record<string, { readonly global: number; readonly china: number }>
> = {
  RSA_2048: { global: 20, china: 1 },
  RSA_3072: { global: 4, china: 0.5 },
  RSA_4096: { global: 1, china: 0.1 },
  ECC_NIST_P256: { global: 100, china: 100 },
  ECC_NIST_P384: { global: 100, china: 100 },
  ECC_NIST_P521: { global: 100, china: 100 },
  ECC_SECG_P256K1: { global: 100, china: 100 },
  ECC_NIST_EDWARDS25519: { global: 100, china: 100 },
  SM2: { global: 100, china: 100 },
};

/** Requests per second of a CloudHSM or external key store; not adjustable. */
export const CUSTOM_KEY_STORE_RPS = 1_800;

/**
 * Control-plane (management) operations and their own rps quota. Operations not listed here are
 * crypto operations (see `classify.ts`).
 *
 * `GetKeyLastUsage` is newer than DESIGN §4; it is given the quota of the other key read operations
 * (`GetKeyRotationStatus`) until AWS documents its own.
 */
export const CONTROL_RPS: Readonly<Record<string, number>> = {
  CancelKeyDeletion: 5,
  ConnectCustomKeyStore: 5,
  CreateAlias: 5,
  CreateCustomKeyStore: 5,
  CreateKey: 5,
  DeleteCustomKeyStore: 5,
  DescribeCustomKeyStores: 5,
  DisableKey: 5,
  DisableKeyRotation: 5,
  DisconnectCustomKeyStore: 5,
  EnableKey: 5,
  ReplicateKey: 5,
  RotateKeyOnDemand: 5,
  UntagResource: 5,
  UpdateAlias: 5,
  UpdateCustomKeyStore: 5,
  UpdateKeyDescription: 5,
  UpdatePrimaryRegion: 5,
  GetParametersForImport: 1,
  TagResource: 10,
  DeleteAlias: 15,
  DeleteImportedKeyMaterial: 15,
  EnableKeyRotation: 15,
  ImportKeyMaterial: 15,
  PutKeyPolicy: 15,
  ScheduleKeyDeletion: 15,
  CreateGrant: 50,
  RetireGrant: 50,
  RevokeGrant: 50,
  ListGrants: 100,
  ListKeyPolicies: 100,
  ListKeyRotations: 100,
  ListRetirableGrants: 100,
  ListAliases: 500,
  ListKeys: 500,
  GetKeyPolicy: 1_000,
  GetKeyRotationStatus: 1_000,
  GetKeyLastUsage: 1_000,
  DescribeKey: 2_000,
  GetPublicKey: 2_000,
  ListResourceTags: 2_000,
};

/** True for the AWS China partition's regions (`cn-north-1`, `cn-northwest-1`). */
export function isChinaRegion(region: string): boolean {
  return region.startsWith('cn-');
}

/**
 * The default quota of one pool in one region under one profile, in requests per second, or `undefined`
 * for a pool the table does not know (an unknown control operation or key-pair spec).
 */
export function defaultQuota(
  pool: QuotaPool,
  region: string,
  profile: QuotaProfile = 'current',
): number | undefined {
  if (pool === 'symmetric') {
    const [base, tier2, tier3] = SYMMETRIC_RPS[profile];
    if (SYMMETRIC_TIER3_REGIONS.includes(region)) return tier3;
    if (SYMMETRIC_TIER2_REGIONS.includes(region)) return tier2;
    return base;
  }
  if (pool === 'rsa' || pool === 'ecc' || pool === 'ml-dsa' || pool === 'ml-kem') {
    return ASYMMETRIC_RPS[profile][pool];
  }
  const slash = pool.indexOf('/');
  const kind = pool.slice(0, slash);
  const rest = pool.slice(slash + 1);
  if (kind === 'data-key-pair') {
    const entry = DATA_KEY_PAIR_RPS[rest];
    if (entry === undefined) return undefined;
    return isChinaRegion(region) ? entry.china : entry.global;
  }
  if (kind === 'custom-key-store') return CUSTOM_KEY_STORE_RPS;
  if (kind === 'control') return CONTROL_RPS[rest];
  return undefined;
}
