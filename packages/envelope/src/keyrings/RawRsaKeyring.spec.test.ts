/**
 * The raw RSA keyring against framework/raw-rsa-keyring.md (0.3.2): each test is named with the MUST
 * sentence it checks, as quoted above the code in RawRsaKeyring.ts. Real RSA keys, real Node.js crypto.
 */
import {
  constants,
  createHash,
  generateKeyPairSync,
  privateDecrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@steadykms/core';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError } from '../errors.js';
import type { EncryptedDataKey } from '../format/header.js';
import { getSuite, type AlgorithmSuite } from '../suites.js';
import { RawRsaKeyring, type RsaPadding } from './RawRsaKeyring.js';
import { materialsFor, rejection } from './keyrings.testkit.js';

const suite = getSuite(0x0478) as AlgorithmSuite;
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const base = { keyNamespace: 'ns', keyName: 'rsa-1', padding: 'oaep-sha256' as RsaPadding };
const both = new RawRsaKeyring({ ...base, publicKey, privateKey });

/** MGF1 (RFC 8017 B.2.1) with `hash`. */
const { encMaterials, decMaterials, edkFor } = materialsFor();
function mgf1(hash: string, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let have = 0;
  for (let i = 0; have < length; i++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(i);
    const block = createHash(hash).update(seed).update(c).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}
const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((x, i) => x ^ (b[i] as number)));

/** RSAES-OAEP decoding (RFC 8017 7.1.2) with one hash for the label and another for MGF1. */
function oaepDecode(key: KeyObject, c: Buffer, labelHash: string, mgfHash: string): Buffer {
  const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, c);
  const hLen = createHash(labelHash).digest().length;
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seed = xor(maskedSeed, mgf1(mgfHash, maskedDb, hLen));
  const db = xor(maskedDb, mgf1(mgfHash, seed, maskedDb.length));
  if (em[0] !== 0 || !db.subarray(0, hLen).equals(createHash(labelHash).digest()))
    throw new Error('OAEP decoding error');
  const one = db.indexOf(1, hLen);
  if (one < 0 || db.subarray(hLen, one).some((b) => b !== 0))
    throw new Error('OAEP decoding error');
  return db.subarray(one + 1);
}

describe('raw-rsa-keyring.md#initialization', () => {
  it('On keyring initialization, the caller MUST provide the following: - Key Namespace - Key Name - Padding Scheme - Public Key and/or Private Key', () => {
    expect(() => new RawRsaKeyring({ ...base, keyNamespace: '', publicKey })).toThrow(
      /keyNamespace/,
    );
    expect(() => new RawRsaKeyring({ ...base, keyName: '', publicKey })).toThrow(/keyName/);
    expect(
      () => new RawRsaKeyring({ ...base, padding: undefined as unknown as RsaPadding, publicKey }),
    ).toThrow(/padding/);
    expect(() => new RawRsaKeyring(base)).toThrow(/publicKey or privateKey/);
    expect(new RawRsaKeyring({ ...base, publicKey }).keyName).toBe('rsa-1');
    expect(new RawRsaKeyring({ ...base, privateKey }).keyName).toBe('rsa-1');
  });
});

describe('keyring-interface.md#key-provider-id', () => {
  it('This value MUST NOT be or start with "aws-kms" unless this encrypted data key was produced by one of the AWS KMS Keyrings.', () => {
    for (const keyNamespace of ['aws-kms', 'aws-kms-raw', 'aws-kmsx']) {
      expect(() => new RawRsaKeyring({ ...base, keyNamespace, publicKey })).toThrow(
        InvalidOptionError,
      );
    }
    expect(new RawRsaKeyring({ ...base, keyNamespace: 'my-aws-kms', publicKey }).keyNamespace).toBe(
      'my-aws-kms',
    );
  });
});

describe('raw-rsa-keyring.md#padding-scheme', () => {
  it('This keyring MUST NOT use a padding scheme outside those defined above.', () => {
    for (const padding of ['oaep-md5', 'oaep-sha224', 'none', 'oaep-', 'pss', ''])
      expect(
        () => new RawRsaKeyring({ ...base, padding: padding as RsaPadding, publicKey }),
      ).toThrow(/unknown padding/);
    for (const padding of ['pkcs1', 'oaep-sha1', 'oaep-sha256', 'oaep-sha384', 'oaep-sha512'])
      expect(
        new RawRsaKeyring({ ...base, padding: padding as RsaPadding, publicKey }).padding,
      ).toBe(padding);
  });

  it('If the padding scheme uses MGF1 Padding, the hash function used as part of MGF1 MUST be the same hash function used to hash the plaintext data key.', async () => {
    for (const hash of ['sha1', 'sha256', 'sha384', 'sha512']) {
      const k = new RawRsaKeyring({ ...base, padding: `oaep-${hash}` as RsaPadding, publicKey });
      const key = randomBytes(32);
      const edk = await edkFor(k, key);
      expect(oaepDecode(privateKey, edk.encryptedDataKey, hash, hash).equals(key)).toBe(true);
      const otherHash = hash === 'sha1' ? 'sha256' : 'sha1';
      expect(() => oaepDecode(privateKey, edk.encryptedDataKey, hash, otherHash)).toThrow(
        /OAEP decoding error/,
      );
    }
  });
});

describe('raw-rsa-keyring.md#onencrypt', () => {
  it('OnEncrypt MUST fail if this keyring does not have a specified public key.', async () => {
    const k = new RawRsaKeyring({ ...base, privateKey });
    const m = encMaterials();
    const e = await rejection(k.onEncrypt(m));
    expect(InvalidOptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/no public key/);
    expect(m.plaintextDataKey).toBeUndefined();
    expect(m.encryptedDataKeys).toEqual([]);
  });

  it('The keyring MUST NOT derive a public key from a specified private key.', async () => {
    // Given only a private key, the keyring decrypts but never encrypts, even through encrypt().
    const decryptOnly = new RawRsaKeyring({ ...base, privateKey });
    const { ciphertext } = await encrypt('hi', {
      keyring: new RawRsaKeyring({ ...base, publicKey }),
      suite: 0x0478,
    });
    expect((await decrypt(ciphertext, { keyring: decryptOnly })).plaintext.toString()).toBe('hi');
    const e = await rejection(encrypt('hi', { keyring: decryptOnly, suite: 0x0478 }));
    expect((e as Error).message).toMatch(/no public key/);
  });

  it('If the encryption materials do not contain a plaintext data key, OnEncrypt MUST generate a random plaintext data key and set it on the encryption materials.', async () => {
    const a = await both.onEncrypt(encMaterials());
    const b = await both.onEncrypt(encMaterials());
    expect(a.plaintextDataKey?.length).toBe(suite.keyLength);
    expect(b.plaintextDataKey?.length).toBe(suite.keyLength);
    expect(a.plaintextDataKey?.equals(b.plaintextDataKey as Buffer)).toBe(false);
  });

  it('The keyring MUST attempt to encrypt the plaintext data key in the encryption materials using RSA.', async () => {
    const key = randomBytes(32);
    const m = await both.onEncrypt(encMaterials(key));
    expect(m.plaintextDataKey).toBe(key);
    expect(m.encryptedDataKeys).toHaveLength(1);
    const edk = m.encryptedDataKeys[0] as EncryptedDataKey;
    expect(edk.providerId).toBe('ns');
    expect(edk.providerInfo.toString()).toBe('rsa-1');
    const unwrapped = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      edk.encryptedDataKey,
    );
    expect(unwrapped.equals(key)).toBe(true);
  });
});

describe('raw-rsa-keyring.md#ondecrypt', () => {
  it('OnDecrypt MUST fail if this keyring does not have a specified private key.', async () => {
    const edk = await edkFor(both, randomBytes(32));
    const m = decMaterials();
    const e = await rejection(new RawRsaKeyring({ ...base, publicKey }).onDecrypt(m, [edk]));
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/no private key/);
    expect(m.plaintextDataKey).toBeUndefined();
  });

  it('If the decryption materials already contain a plaintext data key, the keyring MUST fail and MUST NOT modify the decryption materials.', async () => {
    const edk = await edkFor(both, randomBytes(32));
    const held = randomBytes(32);
    const m = decMaterials(held);
    const e = await rejection(both.onDecrypt(m, [edk]));
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/already hold a data key/);
    expect(m.plaintextDataKey).toBe(held);
  });

  it('The keyring MUST attempt to decrypt the input encrypted data keys, in list order, until it successfully decrypts one.', async () => {
    const first = randomBytes(32);
    const second = randomBytes(32);
    const broken = { ...(await edkFor(both, first)), encryptedDataKey: randomBytes(256) };
    const edks = [broken, await edkFor(both, first), await edkFor(both, second)];
    const m = await both.onDecrypt(decMaterials(), edks);
    expect(m.plaintextDataKey?.equals(first)).toBe(true);
  });

  it("For each encrypted data key, the keyring MUST attempt to decrypt the encrypted data key into plaintext using RSA if and only if the following is true: - The encrypted data key's key provider information. has a value equal to this keyring's key name. - The encrypted data key's key provider ID has a value equal to this keyring's key namespace.", async () => {
    // Three EDKs under this keyring's RSA key, two of them labelled for another name or namespace: only
    // the one labelled for this keyring may be decrypted, wherever it sits in the list.
    const wrongName = await edkFor(
      new RawRsaKeyring({ ...base, keyName: 'rsa-2', publicKey }),
      randomBytes(32),
    );
    const wrongNamespace = await edkFor(
      new RawRsaKeyring({ ...base, keyNamespace: 'ns2', publicKey }),
      randomBytes(32),
    );
    const key = randomBytes(32);
    const mine = await edkFor(both, key);
    const m = await both.onDecrypt(decMaterials(), [wrongName, wrongNamespace, mine]);
    expect(m.plaintextDataKey?.equals(key)).toBe(true);
    const e = await rejection(both.onDecrypt(decMaterials(), [wrongName, wrongNamespace]));
    expect(DecryptionError.is(e)).toBe(true);
  });

  it("If any decryption succeeds, this keyring MUST immediately return the input decryption materials, modified in the following ways: - The output of RSA decryption is set as the decryption material's plaintext data key.", async () => {
    const key = randomBytes(32);
    const input = decMaterials();
    const out = await both.onDecrypt(input, [await edkFor(both, key)]);
    expect(out).toBe(input);
    expect(out.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If no decryption succeeds, the keyring MUST fail and MUST NOT modify the decryption materials.', async () => {
    const notOurs = await edkFor(
      new RawRsaKeyring({ ...base, publicKey: other.publicKey }),
      randomBytes(32),
    );
    for (const edks of [[], [notOurs]]) {
      const m = decMaterials();
      const e = await rejection(both.onDecrypt(m, edks));
      expect(DecryptionError.is(e)).toBe(true);
      expect(m.plaintextDataKey).toBeUndefined();
    }
    // Through decrypt(), the caller sees a DecryptionError whose cause is this keyring's failure.
    const { ciphertext } = await encrypt('x', {
      keyring: new RawRsaKeyring({ ...base, publicKey: other.publicKey }),
      suite: 0x0478,
    });
    const e = await rejection(decrypt(ciphertext, { keyring: both }));
    expect(DecryptionError.is(e)).toBe(true);
    expect(((e as Error).cause as Error).message).toMatch(/RawRsaKeyring: no encrypted data key/);
  });
});
