import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants, createPrivateKey, createPublicKey, publicEncrypt, verify } from 'node:crypto';
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
  type KeySpec,
  type KeyUsageType,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { catchKmsError, fakeClock, startTestKms, type TestKms } from './support/index.js';

let kms: TestKms;
let client: KMSClient;
const clock = fakeClock();

beforeAll(async () => {
  kms = await startTestKms({ clock, quotas: { overrides: { rsa: 3 } } });
  client = kms.client();
});
afterAll(() => kms.close());

const rsaKeys = new Map<string, Promise<string>>();

async function createKey(KeySpec: KeySpec, KeyUsage: KeyUsageType): Promise<string> {
  const m = (await client.send(new CreateKeyCommand({ KeySpec, KeyUsage }))).KeyMetadata!;
  expect(m.KeySpec).toBe(KeySpec);
  return m.KeyId!;
}

/** A key of this spec and usage; RSA keys are made once per file (key generation is slow). */
function key(KeySpec: KeySpec, KeyUsage: KeyUsageType): Promise<string> {
  if (!KeySpec.startsWith('RSA_')) return createKey(KeySpec, KeyUsage);
  const id = `${KeySpec}/${KeyUsage}`;
  let k = rsaKeys.get(id);
  if (k === undefined) {
    k = createKey(KeySpec, KeyUsage);
    rsaKeys.set(id, k);
  }
  return k;
}

describe('RSA encryption keys', () => {
  it('encrypt with OAEP, decrypt with KeyId; the public key from GetPublicKey encrypts too', async () => {
    const id = await key('RSA_2048', 'ENCRYPT_DECRYPT');
    const e = await client.send(
      new EncryptCommand({
        KeyId: id,
        Plaintext: Buffer.from('rsa!'),
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    expect(e.CiphertextBlob?.length).toBe(256);
    const d = await client.send(
      new DecryptCommand({
        KeyId: id,
        CiphertextBlob: e.CiphertextBlob,
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    expect(Buffer.from(d.Plaintext!).toString()).toBe('rsa!');
    expect(d.EncryptionAlgorithm).toBe('RSAES_OAEP_SHA_256');

    const pub = await client.send(new GetPublicKeyCommand({ KeyId: id }));
    expect(pub.EncryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    const local = publicEncrypt(
      {
        key: createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha1',
      },
      Buffer.from('offline'),
    );
    const d2 = await client.send(
      new DecryptCommand({
        KeyId: id,
        CiphertextBlob: local,
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      }),
    );
    expect(Buffer.from(d2.Plaintext!).toString()).toBe('offline');
  });

  it('rejects SYMMETRIC_DEFAULT, too-long plaintext, data keys and a context', async () => {
    clock.advance(1000); // a fresh window of the rsa pool (3 rps here)
    const id = await key('RSA_2048', 'ENCRYPT_DECRYPT');
    expect(
      (
        await catchKmsError(
          client.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })),
        )
      ).name,
    ).toBe('InvalidKeyUsageException');
    const long = await catchKmsError(
      client.send(
        new EncryptCommand({
          KeyId: id,
          Plaintext: Buffer.alloc(191),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      ),
    );
    expect(long.name).toBe('ValidationException');
    expect(
      (
        await catchKmsError(
          client.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' })),
        )
      ).name,
    ).toBe('InvalidKeyUsageException');
    const ctx = await catchKmsError(
      client.send(
        new EncryptCommand({
          KeyId: id,
          Plaintext: Buffer.from('x'),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
          EncryptionContext: { a: 'b' },
        }),
      ),
    );
    expect(ctx.name).toBe('ValidationException');
  });

  it('RSA calls debit the rsa pool, not the symmetric one', async () => {
    const id = await key('RSA_2048', 'ENCRYPT_DECRYPT');
    clock.advance(1000);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        client.send(
          new EncryptCommand({
            KeyId: id,
            Plaintext: Buffer.from('x'),
            EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
          }),
        ),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(kms.server.stats().byRegionPool['us-east-1/rsa']?.throttled).toBeGreaterThanOrEqual(2);
  });
});

describe('signing keys', () => {
  it.each([
    ['RSA_2048', 'RSASSA_PSS_SHA_256'],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_512'],
    ['ECC_NIST_P256', 'ECDSA_SHA_256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384'],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256'],
    ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512'],
  ] as const)('%s signs with %s; Verify and the public key agree', async (spec, alg) => {
    clock.advance(1000);
    const id = await key(spec, 'SIGN_VERIFY');
    const message = Buffer.from('sign me');
    const s = await client.send(
      new SignCommand({ KeyId: id, Message: message, SigningAlgorithm: alg }),
    );
    expect(s.SigningAlgorithm).toBe(alg);
    const v = await client.send(
      new VerifyCommand({
        KeyId: id,
        Message: message,
        Signature: s.Signature,
        SigningAlgorithm: alg,
      }),
    );
    expect(v.SignatureValid).toBe(true);
    const bad = await catchKmsError(
      client.send(
        new VerifyCommand({
          KeyId: id,
          Message: Buffer.from('other'),
          Signature: s.Signature,
          SigningAlgorithm: alg,
        }),
      ),
    );
    expect(bad.name).toBe('KMSInvalidSignatureException');
    const pub = await client.send(new GetPublicKeyCommand({ KeyId: id }));
    const publicKey = createPublicKey({
      key: Buffer.from(pub.PublicKey!),
      format: 'der',
      type: 'spki',
    });
    const digest = alg === 'ED25519_SHA_512' ? null : `sha${alg.slice(-3)}`;
    const opts = alg.startsWith('RSASSA_PSS')
      ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      : publicKey;
    expect(verify(digest, message, opts, Buffer.from(s.Signature!))).toBe(true);
  });

  it('rejects a signing algorithm of another key type and Sign on an encryption key', async () => {
    const ec = await key('ECC_NIST_P256', 'SIGN_VERIFY');
    expect(
      (
        await catchKmsError(
          client.send(
            new SignCommand({
              KeyId: ec,
              Message: Buffer.from('m'),
              SigningAlgorithm: 'RSASSA_PSS_SHA_256',
            }),
          ),
        )
      ).name,
    ).toBe('InvalidKeyUsageException');
    const sym = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(
      (
        await catchKmsError(
          client.send(
            new SignCommand({
              KeyId: sym,
              Message: Buffer.from('m'),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        )
      ).name,
    ).toBe('InvalidKeyUsageException');
    expect((await catchKmsError(client.send(new GetPublicKeyCommand({ KeyId: sym })))).name).toBe(
      'UnsupportedOperationException',
    );
    expect(
      (
        await catchKmsError(
          client.send(
            new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' }),
          ),
        )
      ).name,
    ).toBe('ValidationException');
  });
});

describe('HMAC keys', () => {
  it('GenerateMac and VerifyMac; a changed message is KMSInvalidMacException', async () => {
    const id = await key('HMAC_256', 'GENERATE_VERIFY_MAC');
    const m = await client.send(
      new GenerateMacCommand({
        KeyId: id,
        Message: Buffer.from('m'),
        MacAlgorithm: 'HMAC_SHA_256',
      }),
    );
    expect(m.Mac?.length).toBe(32);
    const v = await client.send(
      new VerifyMacCommand({
        KeyId: id,
        Message: Buffer.from('m'),
        Mac: m.Mac,
        MacAlgorithm: 'HMAC_SHA_256',
      }),
    );
    expect(v.MacValid).toBe(true);
    const bad = await catchKmsError(
      client.send(
        new VerifyMacCommand({
          KeyId: id,
          Message: Buffer.from('n'),
          Mac: m.Mac,
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      ),
    );
    expect(bad.name).toBe('KMSInvalidMacException');
    const wrongAlg = await catchKmsError(
      client.send(
        new GenerateMacCommand({
          KeyId: id,
          Message: Buffer.from('m'),
          MacAlgorithm: 'HMAC_SHA_512',
        }),
      ),
    );
    expect(wrongAlg.name).toBe('InvalidKeyUsageException');
  });
});

describe('GenerateDataKeyPair', () => {
  it('returns a key pair whose private half decrypts back and matches the public half', async () => {
    clock.advance(1000);
    const sym = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const p = await client.send(
      new GenerateDataKeyPairCommand({
        KeyId: sym,
        KeyPairSpec: 'ECC_NIST_P256',
        EncryptionContext: { a: 'b' },
      }),
    );
    expect(p.KeyPairSpec).toBe('ECC_NIST_P256');
    const d = await client.send(
      new DecryptCommand({
        CiphertextBlob: p.PrivateKeyCiphertextBlob,
        EncryptionContext: { a: 'b' },
      }),
    );
    expect(Buffer.from(d.Plaintext!).equals(Buffer.from(p.PrivateKeyPlaintext!))).toBe(true);
    const priv = createPrivateKey({
      key: Buffer.from(p.PrivateKeyPlaintext!),
      format: 'der',
      type: 'pkcs8',
    });
    const pub = createPublicKey(priv).export({ format: 'der', type: 'spki' });
    expect(pub.equals(Buffer.from(p.PublicKey!))).toBe(true);
    const w = await client.send(
      new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: sym, KeyPairSpec: 'RSA_2048' }),
    );
    expect((w as { PrivateKeyPlaintext?: unknown }).PrivateKeyPlaintext).toBeUndefined();
    expect(w.PublicKey?.length).toBeGreaterThan(200);
    expect(kms.server.stats().byPool['data-key-pair/RSA_2048']?.accepted).toBe(1);
    expect(
      (
        await catchKmsError(
          client.send(new GenerateDataKeyPairCommand({ KeyId: sym, KeyPairSpec: 'SM2' })),
        )
      ).name,
    ).toBe('UnsupportedOperationException');
  });
});
