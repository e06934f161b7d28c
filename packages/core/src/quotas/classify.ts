import { CONTROL_RPS, type QuotaPool } from './table.js';

/** Every KMS operation the SDK models, in the SDK's spelling. */
export const KMS_OPERATIONS = [
  'CancelKeyDeletion',
  'ConnectCustomKeyStore',
  'CreateAlias',
  'CreateCustomKeyStore',
  'CreateGrant',
  'CreateKey',
  'Decapsulate',
  'Decrypt',
  'DeleteAlias',
  'DeleteCustomKeyStore',
  'DeleteImportedKeyMaterial',
  'DeriveSharedSecret',
  'DescribeCustomKeyStores',
  'DescribeKey',
  'DisableKey',
  'DisableKeyRotation',
  'DisconnectCustomKeyStore',
  'EnableKey',
  'EnableKeyRotation',
  'Encapsulate',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'GenerateRandom',
  'GetKeyLastUsage',
  'GetKeyPolicy',
  'GetKeyRotationStatus',
  'GetParametersForImport',
  'GetPublicKey',
  'ImportKeyMaterial',
  'ListAliases',
  'ListGrants',
  'ListKeyPolicies',
  'ListKeyRotations',
  'ListKeys',
  'ListResourceTags',
  'ListRetirableGrants',
  'PutKeyPolicy',
  'ReEncrypt',
  'ReplicateKey',
  'RetireGrant',
  'RevokeGrant',
  'RotateKeyOnDemand',
  'ScheduleKeyDeletion',
  'Sign',
  'TagResource',
  'UntagResource',
  'UpdateAlias',
  'UpdateCustomKeyStore',
  'UpdateKeyDescription',
  'UpdatePrimaryRegion',
  'Verify',
  'VerifyMac',
] as const;

/** A KMS operation name. */
export type KmsOperation = (typeof KMS_OPERATIONS)[number];

/** Operations that consume a shared cryptographic pool rather than a control-plane pool of their own. */
export const CRYPTO_OPERATIONS: ReadonlySet<string> = new Set([
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'GenerateRandom',
  'ReEncrypt',
  'Sign',
  'Verify',
  'DeriveSharedSecret',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'Encapsulate',
  'Decapsulate',
]);

/**
 * Operations that must not be retried after an ambiguous failure (timeout, reset, 5xx): the first
 * attempt may have taken effect, and a second would create a second key, grant, replica or rotation.
 * They are still retried after a throttle, which is a definite rejection.
 */
export const NON_IDEMPOTENT_OPERATIONS: ReadonlySet<string> = new Set([
  'CreateKey',
  'ReplicateKey',
  'CreateGrant',
  'CreateCustomKeyStore',
  'RotateKeyOnDemand',
  'CreateAlias',
]);

/**
 * What the price list charges a request as (DESIGN §9): `standard` is $0.03 per 10,000 (symmetric,
 * control plane, RSA_2048), `asymmetric` $0.15 per 10,000, `ecc-data-key-pair` $0.10 per 10,000 and
 * `rsa-data-key-pair` $12.00 per 10,000.
 */
export type BillingClass = 'standard' | 'asymmetric' | 'ecc-data-key-pair' | 'rsa-data-key-pair';

/** What is known about a key, from the caller or learned from an earlier response. */
export interface KeyInfo {
  /** `KeySpec` as KMS names it: `SYMMETRIC_DEFAULT`, `RSA_2048`, `ECC_NIST_P384`, `HMAC_256`, `ML_DSA_65`... */
  readonly keySpec?: string | undefined;
  /** Set when the key lives in a CloudHSM or external key store. */
  readonly customKeyStoreId?: string | undefined;
}

/** One quota pool debited by a request, in one region. */
export interface QuotaCharge {
  readonly pool: QuotaPool;
  readonly region: string;
  /** How many requests of the pool's quota this call uses. */
  readonly cost: number;
}

/** Everything the limiter, retry strategy and cost model need to know about one call. */
export interface Classification {
  readonly operation: string;
  readonly kind: 'crypto' | 'control';
  /** The pools debited; the first is the primary pool that names the call in events. */
  readonly charges: readonly [QuotaCharge, ...QuotaCharge[]];
  readonly billing: BillingClass;
  /** False when a retry after an ambiguous failure could apply the call twice. */
  readonly idempotent: boolean;
  /** The key the call names (`KeyId`, `DestinationKeyId` or `SourceKeyId`), as the caller wrote it. */
  readonly keyId: string | undefined;
}

type Family = 'symmetric' | 'rsa' | 'ecc' | 'ml-dsa' | 'ml-kem';

/** Maps a KMS `KeySpec` to the crypto pool family its operations use. */
export function familyOfKeySpec(keySpec: string): Family {
  if (keySpec.startsWith('RSA_')) return 'rsa';
  if (keySpec.startsWith('ECC_') || keySpec === 'SM2') return 'ecc';
  if (keySpec.startsWith('ML_DSA_')) return 'ml-dsa';
  if (keySpec.startsWith('ML_KEM_')) return 'ml-kem';
  return 'symmetric';
}

function familyOfAlgorithm(algorithm: unknown): Family | undefined {
  if (typeof algorithm !== 'string') return undefined;
  if (algorithm.startsWith('RSAES_') || algorithm.startsWith('RSASSA_')) return 'rsa';
  if (algorithm === 'SM2PKE' || algorithm === 'SM2DSA' || algorithm.startsWith('ECDSA_'))
    return 'ecc';
  if (algorithm.startsWith('ED25519')) return 'ecc';
  if (algorithm.startsWith('ML_DSA_')) return 'ml-dsa';
  if (algorithm === 'SYMMETRIC_DEFAULT' || algorithm.startsWith('HMAC_')) return 'symmetric';
  return undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The key a call names, as the caller wrote it (id, ARN, alias name or alias ARN). */
export function keyIdOf(
  operation: string,
  input: Readonly<Record<string, unknown>>,
): string | undefined {
  if (operation === 'ReEncrypt') return str(input['DestinationKeyId']) ?? str(input['SourceKeyId']);
  return str(input['KeyId']) ?? str(input['TargetKeyId']);
}

function cryptoFamily(
  operation: string,
  input: Readonly<Record<string, unknown>>,
  key: KeyInfo | undefined,
): Family {
  switch (operation) {
    case 'GenerateMac':
    case 'VerifyMac':
    case 'GenerateDataKey':
    case 'GenerateDataKeyWithoutPlaintext':
    case 'GenerateRandom':
      return 'symmetric';
    case 'Encapsulate':
    case 'Decapsulate':
      return 'ml-kem';
    case 'DeriveSharedSecret':
      return 'ecc';
    default:
      break;
  }
  const fromInput =
    familyOfAlgorithm(input['EncryptionAlgorithm']) ??
    familyOfAlgorithm(input['SigningAlgorithm']) ??
    familyOfAlgorithm(input['DestinationEncryptionAlgorithm']) ??
    familyOfAlgorithm(input['SourceEncryptionAlgorithm']);
  // SYMMETRIC_DEFAULT in the input is only a hint; a learned key spec is more specific.
  if (fromInput !== undefined && fromInput !== 'symmetric') return fromInput;
  if (key?.keySpec !== undefined) return familyOfKeySpec(key.keySpec);
  if (operation === 'Sign' || operation === 'Verify') return 'ecc';
  return 'symmetric';
}

function billingOf(
  operation: string,
  family: Family,
  input: Readonly<Record<string, unknown>>,
  key: KeyInfo | undefined,
): BillingClass {
  if (operation === 'GenerateDataKeyPair' || operation === 'GenerateDataKeyPairWithoutPlaintext') {
    return String(input['KeyPairSpec']).startsWith('RSA_')
      ? 'rsa-data-key-pair'
      : 'ecc-data-key-pair';
  }
  if (family === 'symmetric') return 'standard';
  if (family === 'rsa' && key?.keySpec === 'RSA_2048') return 'standard';
  return 'asymmetric';
}

/**
 * Classifies one KMS call: which quota pools it debits in which regions, how it is billed, and whether
 * it may be retried after an ambiguous failure.
 *
 * Rules (DESIGN §4): the pool of a crypto call depends on the key type, inferred from the input's
 * algorithm, else from `key` (what the caller or an earlier response revealed), else symmetric.
 * GenerateDataKeyPair debits `data-key-pair/<spec>`. A key in a custom key store also debits
 * `custom-key-store/<id>`. ReplicateKey costs one ReplicateKey in the source region plus two CreateKey in
 * the replica region; UpdatePrimaryRegion costs one request in each of the two regions. Every other
 * operation debits its own `control/<Operation>` pool.
 */
export function classifyOperation(
  operation: string,
  input: Readonly<Record<string, unknown>>,
  region: string,
  key?: KeyInfo,
): Classification {
  const keyId = keyIdOf(operation, input);
  const idempotent = !NON_IDEMPOTENT_OPERATIONS.has(operation);
  if (CRYPTO_OPERATIONS.has(operation)) {
    if (
      operation === 'GenerateDataKeyPair' ||
      operation === 'GenerateDataKeyPairWithoutPlaintext'
    ) {
      const spec = str(input['KeyPairSpec']) ?? 'UNKNOWN';
      const charges: [QuotaCharge, ...QuotaCharge[]] = [
        { pool: `data-key-pair/${spec}`, region, cost: 1 },
      ];
      return {
        operation,
        kind: 'crypto',
        charges,
        billing: billingOf(operation, 'symmetric', input, key),
        idempotent,
        keyId,
      };
    }
    const family = cryptoFamily(operation, input, key);
    const charges: [QuotaCharge, ...QuotaCharge[]] = [{ pool: family, region, cost: 1 }];
    // GenerateRandom names its key store in the input (it takes no key); other crypto calls reach a
    // custom key store through their key.
    const store =
      operation === 'GenerateRandom' ? str(input['CustomKeyStoreId']) : key?.customKeyStoreId;
    if (store !== undefined) {
      charges.push({ pool: `custom-key-store/${store}`, region, cost: 1 });
    }
    return {
      operation,
      kind: 'crypto',
      charges,
      billing: billingOf(operation, family, input, key),
      idempotent,
      keyId,
    };
  }
  const own: QuotaCharge = { pool: `control/${operation}`, region, cost: 1 };
  const charges: [QuotaCharge, ...QuotaCharge[]] = [own];
  if (operation === 'ReplicateKey') {
    const replica = str(input['ReplicaRegion']);
    if (replica !== undefined)
      charges.push({ pool: 'control/CreateKey', region: replica, cost: 2 });
  } else if (operation === 'UpdatePrimaryRegion') {
    const other = str(input['PrimaryRegion']);
    if (other !== undefined && other !== region) {
      charges.push({ pool: 'control/UpdatePrimaryRegion', region: other, cost: 1 });
    }
  }
  return { operation, kind: 'control', charges, billing: 'standard', idempotent, keyId };
}

/** True when the table has a control-plane quota of its own for `operation`. */
export function isKnownControlOperation(operation: string): boolean {
  return CONTROL_RPS[operation] !== undefined;
}

/**
 * What a response reveals about a key, for the learned key-spec cache: `DescribeKey`, `CreateKey` and
 * `ReplicateKey` return `KeyMetadata`; `GetPublicKey` returns `KeySpec`. Returns the key's ARN (or id) and
 * what was learned, or `undefined` when the response says nothing about the key.
 */
export function keyInfoFromResponse(
  output: Readonly<Record<string, unknown>>,
): { readonly keyArn: string; readonly info: KeyInfo } | undefined {
  const meta = output['KeyMetadata'] ?? output['ReplicaKeyMetadata'];
  if (meta !== null && typeof meta === 'object') {
    const m = meta as Record<string, unknown>;
    const keyArn = str(m['Arn']) ?? str(m['KeyId']);
    if (keyArn === undefined) return undefined;
    return {
      keyArn,
      info: { keySpec: str(m['KeySpec']), customKeyStoreId: str(m['CustomKeyStoreId']) },
    };
  }
  const keyArn = str(output['KeyId']);
  const keySpec = str(output['KeySpec']);
  if (keyArn !== undefined && keySpec !== undefined) return { keyArn, info: { keySpec } };
  return undefined;
}
