/**
 * The raw AES keyring against framework/raw-aes-keyring.md (0.4.1): each test is named with the MUST
 * sentence it checks, as quoted above the code in RawAesKeyring.ts. Real keys, real Node.js crypto.
 */
import { createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@steadykms/core';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError } from '../errors.js';
import { serializeEncryptionContext } from '../format/encryptionContext.js';
import { RawAesKeyring } from './RawAesKeyring.js';
import { materialsFor, rejection } from './keyrings.testkit.js';

const context = { purpose: 'raw aes spec' };
const serializedContext = serializeEncryptionContext(context);
const wrappingKey = randomBytes(32);
const base = { keyNamespace: 'ns', keyName: 'aes-1', wrappingKey };
const keyring = new RawAesKeyring(base);

const { encMaterials, decMaterials, edkFor } = materialsFor(context, serializedContext);
describe('keyring-interface.md#key-provider-id', () => {
  it('This value MUST NOT be or start with "aws-kms" unless this encrypted data key was produced by one of the AWS KMS Keyrings.', () => {
    for (const keyNamespace of ['aws-kms', 'aws-kms-raw', 'aws-kmsx'])
      expect(() => new RawAesKeyring({ ...base, keyNamespace })).toThrow(InvalidOptionError);
    expect(new RawAesKeyring({ ...base, keyNamespace: 'my-aws-kms' }).keyNamespace).toBe(
      'my-aws-kms',
    );
  });
});

describe('raw-aes-keyring.md#onencrypt', () => {
  it("Based on the ciphertext output of the AES-GCM decryption, the keyring MUST construct an encrypted data key with the following specifics: - The key provider ID is this keyring's key namespace. - The key provider information is serialized as the raw AES keyring key provider information.", async () => {
    const key = randomBytes(32);
    const edk = await edkFor(keyring, key);
    expect(edk.providerId).toBe('ns');
    const info = edk.providerInfo;
    expect(info.subarray(0, 5).toString()).toBe('aes-1');
    expect(info.readUInt32BE(5)).toBe(128);
    expect(info.readUInt32BE(9)).toBe(12);
    const iv = info.subarray(13);
    expect(iv.length).toBe(12);
    // The ciphertext is the AES-GCM output then the tag, under this IV, with the context as AAD.
    const d = createDecipheriv('aes-256-gcm', wrappingKey, iv);
    d.setAAD(serializedContext);
    d.setAuthTag(edk.encryptedDataKey.subarray(32));
    expect(
      Buffer.concat([d.update(edk.encryptedDataKey.subarray(0, 32)), d.final()]).equals(key),
    ).toBe(true);
  });

  it("This value MUST match the authentication tag length of the keyring's configured wrapping algorithm.", async () => {
    const edk = await edkFor(keyring, randomBytes(32));
    expect(edk.providerInfo.readUInt32BE(5)).toBe(128);
    expect(edk.encryptedDataKey.length - 32).toBe(128 / 8);
  });

  it("This value MUST match the IV length of the keyring's configured wrapping algorithm.", async () => {
    const edk = await edkFor(keyring, randomBytes(32));
    expect(edk.providerInfo.readUInt32BE(9)).toBe(12);
    expect(edk.providerInfo.length - 13).toBe(12);
  });

  it('If the encryption materials do not contain a plaintext data key, OnEncrypt MUST generate a random plaintext data key and set it on the encryption materials.', async () => {
    const a = await keyring.onEncrypt(encMaterials());
    const b = await keyring.onEncrypt(encMaterials());
    expect(a.plaintextDataKey?.length).toBe(32);
    expect(a.plaintextDataKey?.equals(b.plaintextDataKey as Buffer)).toBe(false);
  });
});

describe('raw-aes-keyring.md#ondecrypt', () => {
  it('If the decryption materials already contain a plaintext data key, the keyring MUST fail and MUST NOT modify the decryption materials.', async () => {
    const held = randomBytes(32);
    const m = decMaterials(held);
    const e = await rejection(keyring.onDecrypt(m, [await edkFor(keyring, randomBytes(32))]));
    expect(DecryptionError.is(e)).toBe(true);
    expect(m.plaintextDataKey).toBe(held);
    expect(() => keyring.onDecryptSync(m, [])).toThrow(/already hold a data key/);
  });

  it('The keyring MUST perform the following actions on each encrypted data key in the input encrypted data key list, serially, until it successfully decrypts one.', async () => {
    const first = randomBytes(32);
    const good = await edkFor(keyring, first);
    const tampered = {
      ...good,
      encryptedDataKey: Buffer.from(good.encryptedDataKey).fill(1, 0, 1),
    };
    const m = await keyring.onDecrypt(decMaterials(), [
      tampered,
      good,
      await edkFor(keyring, randomBytes(32)),
    ]);
    expect(m.plaintextDataKey?.equals(first)).toBe(true);
  });

  it('The ciphertext and key provider information MUST be successfully deserialized.', async () => {
    const key = randomBytes(32);
    const good = await edkFor(keyring, key);
    const shortCiphertext = { ...good, encryptedDataKey: good.encryptedDataKey.subarray(0, 40) };
    const shortInfo = { ...good, providerInfo: good.providerInfo.subarray(0, 20) };
    const e = await rejection(keyring.onDecrypt(decMaterials(), [shortCiphertext, shortInfo]));
    expect(DecryptionError.is(e)).toBe(true);
    const m = await keyring.onDecrypt(decMaterials(), [shortCiphertext, shortInfo, good]);
    expect(m.plaintextDataKey?.equals(key)).toBe(true);
  });

  it("The key name obtained from the encrypted data key's key provider information MUST have a value equal to this keyring's key name. The key provider ID of the encrypted data key MUST have a value equal to this keyring's key namespace. The IV length obtained from the encrypted data key's key provider information MUST have a value equal to the length specified by this keyring's wrapping algorithm. The authentication tag length obtained from the key provider information MUST have a value equal to the length specified by this keyring's wrapping algorithm.", async () => {
    const key = randomBytes(32);
    const good = await edkFor(keyring, key);
    // Same wrapping key, so only the labels keep these EDKs from being tried.
    const otherName = await edkFor(
      new RawAesKeyring({ ...base, keyName: 'aes-2' }),
      randomBytes(32),
    );
    const otherNamespace = await edkFor(
      new RawAesKeyring({ ...base, keyNamespace: 'ns2' }),
      randomBytes(32),
    );
    const tag = Buffer.from(good.providerInfo);
    tag.writeUInt32BE(96, 5);
    const iv = Buffer.from(good.providerInfo);
    iv.writeUInt32BE(16, 9);
    const bad = [
      otherName,
      otherNamespace,
      { ...good, providerInfo: tag },
      { ...good, providerInfo: iv },
    ];
    expect(DecryptionError.is(await rejection(keyring.onDecrypt(decMaterials(), bad)))).toBe(true);
    const m = await keyring.onDecrypt(decMaterials(), [...bad, good]);
    expect(m.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If a decryption succeeds, this keyring MUST add the resulting plaintext data key to the decryption materials and return the modified materials.', async () => {
    const key = randomBytes(32);
    const input = decMaterials();
    const out = keyring.onDecryptSync(input, [await edkFor(keyring, key)]);
    expect(out).toBe(input);
    expect(out.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If no decryption succeeds, the keyring MUST fail and MUST NOT modify the decryption materials.', async () => {
    const other = await edkFor(
      new RawAesKeyring({ ...base, wrappingKey: randomBytes(32) }),
      randomBytes(32),
    );
    for (const edks of [[], [other]]) {
      const m = decMaterials();
      expect(DecryptionError.is(await rejection(keyring.onDecrypt(m, edks)))).toBe(true);
      expect(() => keyring.onDecryptSync(m, edks)).toThrow(DecryptionError);
      expect(m.plaintextDataKey).toBeUndefined();
    }
    // Through decrypt() (the synchronous path), a typed DecryptionError caused by this failure.
    const { ciphertext } = await encrypt('x', {
      keyring: new RawAesKeyring({ ...base, wrappingKey: randomBytes(32) }),
      suite: 0x0478,
    });
    const e = await rejection(decrypt(ciphertext, { keyring }));
    expect(DecryptionError.is(e)).toBe(true);
    expect(((e as Error).cause as Error).message).toMatch(/^RawAesKeyring: no encrypted data key/);
  });
});
