import { describe, expect, it } from 'vitest';
import { defaultQuota } from './table.js';
import { resolveQuotas } from './options.js';
import { classifyOperation, KMS_OPERATIONS } from './classify.js';

// Entries checked against DESIGN §4 ("The KMS quota model"), figure by figure.
describe('quota table matches DESIGN §4', () => {
  it.each([
    ['symmetric', 'ca-central-1', 10_000],
    ['symmetric', 'eu-central-1', 20_000],
    ['symmetric', 'ap-northeast-1', 20_000],
    ['symmetric', 'us-east-1', 100_000],
    ['symmetric', 'eu-west-1', 100_000],
    ['rsa', 'us-east-1', 1_000],
    ['ecc', 'us-east-1', 1_000],
    ['ml-dsa', 'us-east-1', 1_000],
    ['data-key-pair/ECC_NIST_P256', 'us-east-1', 100],
    ['data-key-pair/RSA_2048', 'us-east-1', 20],
    ['data-key-pair/RSA_3072', 'us-east-1', 4],
    ['data-key-pair/RSA_4096', 'us-east-1', 1],
    ['data-key-pair/RSA_2048', 'cn-north-1', 1],
    ['data-key-pair/RSA_3072', 'cn-north-1', 0.5],
    ['data-key-pair/RSA_4096', 'cn-northwest-1', 0.1],
    ['custom-key-store/cks-1234', 'us-east-1', 1_800],
    ['control/CreateKey', 'us-east-1', 5],
    ['control/GetParametersForImport', 'us-east-1', 1],
    ['control/TagResource', 'us-east-1', 10],
    ['control/ScheduleKeyDeletion', 'us-east-1', 15],
    ['control/CreateGrant', 'us-east-1', 50],
    ['control/ListGrants', 'us-east-1', 100],
    ['control/ListKeys', 'us-east-1', 500],
    ['control/GetKeyPolicy', 'us-east-1', 1_000],
    ['control/DescribeKey', 'us-east-1', 2_000],
  ] as const)('%s in %s is %d rps', (pool, region, rps) => {
    expect(defaultQuota(pool, region)).toBe(rps);
  });

  it('keeps the December 2022 profile: symmetric 5,500/10,000/50,000, RSA 500, ECC 300', () => {
    expect(defaultQuota('symmetric', 'sa-east-1', '2022')).toBe(5_500);
    expect(defaultQuota('symmetric', 'us-east-2', '2022')).toBe(10_000);
    expect(defaultQuota('symmetric', 'us-west-2', '2022')).toBe(50_000);
    expect(defaultQuota('rsa', 'us-west-2', '2022')).toBe(500);
    expect(defaultQuota('ecc', 'us-west-2', '2022')).toBe(300);
  });
});

describe('resolveQuotas', () => {
  it('scales defaults but not overrides', () => {
    const q = resolveQuotas({ scale: 0.01, overrides: { 'control/CreateKey': 2 } });
    expect(q('symmetric', 'ca-central-1')).toBe(100);
    expect(q('control/CreateKey', 'ca-central-1')).toBe(2);
  });
  it('false turns every quota off', () => {
    expect(resolveQuotas(false)('symmetric', 'us-east-1')).toBe(Number.POSITIVE_INFINITY);
  });
  it('rejects a scale of zero naming the option', () => {
    expect(() => resolveQuotas({ scale: 0 })).toThrow(/quotas\.scale/);
  });
});

describe('classifyOperation', () => {
  it('classifies every modelled operation into a known pool', () => {
    for (const op of KMS_OPERATIONS) {
      const c = classifyOperation(op, { KeyPairSpec: 'ECC_NIST_P256' }, 'us-east-1');
      expect(defaultQuota(c.charges[0].pool, 'us-east-1'), op).toBeGreaterThan(0);
    }
  });
  it('infers the pool from the algorithm in the input', () => {
    expect(
      classifyOperation('Decrypt', { EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }, 'r').charges[0]
        .pool,
    ).toBe('rsa');
    expect(
      classifyOperation('Decrypt', { EncryptionAlgorithm: 'SM2PKE' }, 'r').charges[0].pool,
    ).toBe('ecc');
    expect(
      classifyOperation('Sign', { SigningAlgorithm: 'ML_DSA_SHAKE_256' }, 'r').charges[0].pool,
    ).toBe('ml-dsa');
    expect(
      classifyOperation('Verify', { SigningAlgorithm: 'RSASSA_PSS_SHA_256' }, 'r').charges[0].pool,
    ).toBe('rsa');
    expect(classifyOperation('GenerateMac', {}, 'r').charges[0].pool).toBe('symmetric');
  });
  it('falls back to the learned key spec, then to symmetric', () => {
    expect(
      classifyOperation('Encrypt', { KeyId: 'k' }, 'r', { keySpec: 'RSA_4096' }).charges[0].pool,
    ).toBe('rsa');
    expect(classifyOperation('Encrypt', { KeyId: 'k' }, 'r').charges[0].pool).toBe('symmetric');
  });
  it('charges a custom key store pool on top of the crypto pool', () => {
    const c = classifyOperation('Decrypt', {}, 'r', {
      keySpec: 'SYMMETRIC_DEFAULT',
      customKeyStoreId: 'cks-1',
    });
    expect(c.charges.map((x) => x.pool)).toEqual(['symmetric', 'custom-key-store/cks-1']);
  });
  it('GenerateRandom in a custom key store also debits that store', () => {
    const c = classifyOperation(
      'GenerateRandom',
      { CustomKeyStoreId: 'cks-9', NumberOfBytes: 8 },
      'r',
    );
    expect(c.charges.map((x) => x.pool)).toEqual(['symmetric', 'custom-key-store/cks-9']);
    expect(classifyOperation('GenerateRandom', {}, 'r').charges).toHaveLength(1);
  });
  it('ReplicateKey costs one ReplicateKey here and two CreateKey in the replica region', () => {
    const c = classifyOperation(
      'ReplicateKey',
      { KeyId: 'mrk-1', ReplicaRegion: 'eu-west-1' },
      'us-east-1',
    );
    expect(c.charges).toEqual([
      { pool: 'control/ReplicateKey', region: 'us-east-1', cost: 1 },
      { pool: 'control/CreateKey', region: 'eu-west-1', cost: 2 },
    ]);
    expect(c.idempotent).toBe(false);
  });
  it('UpdatePrimaryRegion costs one request in each region', () => {
    const c = classifyOperation(
      'UpdatePrimaryRegion',
      { KeyId: 'mrk-1', PrimaryRegion: 'eu-west-1' },
      'us-east-1',
    );
    expect(c.charges.map((x) => `${x.pool}@${x.region}`)).toEqual([
      'control/UpdatePrimaryRegion@us-east-1',
      'control/UpdatePrimaryRegion@eu-west-1',
    ]);
  });
  it('bills data key pairs by spec family', () => {
    expect(classifyOperation('GenerateDataKeyPair', { KeyPairSpec: 'RSA_2048' }, 'r').billing).toBe(
      'rsa-data-key-pair',
    );
    expect(
      classifyOperation('GenerateDataKeyPair', { KeyPairSpec: 'ECC_NIST_P256' }, 'r').charges[0]
        .pool,
    ).toBe('data-key-pair/ECC_NIST_P256');
  });
});
