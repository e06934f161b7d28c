/**
 * The multi-keyring against framework/multi-keyring.md (0.1.1): each test is named with the MUST sentence
 * it checks, as quoted above the code in MultiKeyring.ts. The children are real raw AES and raw RSA
 * keyrings; a test-only keyring stands in only where the sentence is about a child that misbehaves or
 * where the calls themselves are observed.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@steadykms/core';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError } from '../errors.js';
import type { EncryptedDataKey } from '../format/header.js';
import { MultiKeyring } from './MultiKeyring.js';
import { RawAesKeyring } from './RawAesKeyring.js';
import { RawRsaKeyring } from './RawRsaKeyring.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './types.js';
import { materialsFor, rejection } from './keyrings.testkit.js';

const aes = (name: string): RawAesKeyring =>
  new RawAesKeyring({ keyNamespace: 'ns', keyName: name, wrappingKey: randomBytes(32) });
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const { encMaterials, decMaterials, edkFor } = materialsFor();
/** A real keyring that fails both OnEncrypt (no public key) and OnDecrypt (no matching EDK). */
const decryptOnlyRsa = new RawRsaKeyring({
  keyNamespace: 'ns',
  keyName: 'rsa',
  padding: 'oaep-sha256',
  privateKey,
});

/** Records what it was called with, then fails or answers as told. */
class Recorder implements Keyring {
  readonly calls: Array<{ key: Buffer | undefined; edks: readonly EncryptedDataKey[] }> = [];
  constructor(private readonly answer: Buffer | Error | undefined) {}
  onEncrypt(m: EncryptionMaterials): Promise<EncryptionMaterials> {
    this.calls.push({ key: m.plaintextDataKey, edks: m.encryptedDataKeys });
    if (this.answer instanceof Error) return Promise.reject(this.answer);
    return Promise.resolve(m);
  }
  onDecrypt(
    m: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    this.calls.push({ key: m.plaintextDataKey, edks });
    if (this.answer instanceof Error) return Promise.reject(this.answer);
    if (this.answer) m.plaintextDataKey = Buffer.from(this.answer);
    return Promise.resolve(m);
  }
}

describe('multi-keyring.md#inputs', () => {
  it('On keyring initialization, a keyring MUST define at least one of the following: - Generator Keyring - Child Keyrings', () => {
    expect(() => new MultiKeyring({})).toThrow(InvalidOptionError);
    expect(() => new MultiKeyring({ children: [] })).toThrow(/a generator or a child/);
    expect(new MultiKeyring({ generator: aes('g') }).children).toEqual([]);
    expect(new MultiKeyring({ children: [aes('c')] }).generator).toBeUndefined();
  });
});

describe('multi-keyring.md#onencrypt', () => {
  it('If the input encryption materials already include a plaintext data key, OnEncrypt MUST fail.', async () => {
    const child = new Recorder(undefined);
    const m = encMaterials(randomBytes(32));
    const e = await rejection(
      new MultiKeyring({ generator: aes('g'), children: [child] }).onEncrypt(m),
    );
    expect(InvalidOptionError.is(e)).toBe(true);
    expect(m.encryptedDataKeys).toEqual([]);
    expect(child.calls).toEqual([]);
    // Without a generator, a data key in the materials is what the children wrap.
    const ok = await new MultiKeyring({ children: [aes('c')] }).onEncrypt(
      encMaterials(randomBytes(32)),
    );
    expect(ok.encryptedDataKeys).toHaveLength(1);
  });

  it("This keyring MUST first call the generator keyring's OnEncrypt using the input encryption materials as input.", async () => {
    const generator = aes('g');
    const child = aes('c');
    const input = encMaterials();
    const out = await new MultiKeyring({ generator, children: [child] }).onEncrypt(input);
    expect(out).toBe(input);
    expect(out.encryptedDataKeys.map((e) => e.providerInfo.subarray(0, 1).toString())).toEqual([
      'g',
      'c',
    ]);
    // The generator made the data key: its EDK unwraps to it.
    const back = await generator.onDecrypt(decMaterials(), out.encryptedDataKeys);
    expect(back.plaintextDataKey?.equals(out.plaintextDataKey as Buffer)).toBe(true);
  });

  it('If the generator keyring fails OnEncrypt, this OnEncrypt MUST also fail.', async () => {
    const child = new Recorder(undefined);
    const e = await rejection(
      new MultiKeyring({ generator: decryptOnlyRsa, children: [child] }).onEncrypt(encMaterials()),
    );
    expect((e as Error).message).toMatch(/no public key/);
    expect(child.calls).toEqual([]);
  });

  it('If the generator keyring returns encryption materials missing a plaintext data key, OnEncrypt MUST fail.', async () => {
    const e = await rejection(
      new MultiKeyring({ generator: new Recorder(undefined), children: [aes('c')] }).onEncrypt(
        encMaterials(),
      ),
    );
    expect((e as Error).message).toMatch(/generator did not produce a data key/);
  });

  it('If this keyring does not have a generator keyring, and the input encryption materials does not include a plaintext data key, OnEncrypt MUST fail.', async () => {
    const m = encMaterials();
    const e = await rejection(new MultiKeyring({ children: [aes('c')] }).onEncrypt(m));
    expect((e as Error).message).toMatch(/no generator and no data key/);
    expect(m.plaintextDataKey).toBeUndefined();
    expect(m.encryptedDataKeys).toEqual([]);
  });

  it("Next, for each keyring in this keyring's list of child keyrings, the keyring MUST call OnEncrypt.", async () => {
    const children = [aes('a'), aes('b'), aes('c')];
    const out = await new MultiKeyring({ generator: aes('g'), children }).onEncrypt(encMaterials());
    expect(out.encryptedDataKeys).toHaveLength(4);
    for (const [i, child] of children.entries()) {
      const back = await child.onDecrypt(decMaterials(), [
        out.encryptedDataKeys[i + 1] as EncryptedDataKey,
      ]);
      expect(back.plaintextDataKey?.equals(out.plaintextDataKey as Buffer)).toBe(true);
    }
  });

  it("If the child keyring's OnEncrypt fails, this OnEncrypt MUST also fail.", async () => {
    const after = new Recorder(undefined);
    const e = await rejection(
      new MultiKeyring({ generator: aes('g'), children: [decryptOnlyRsa, after] }).onEncrypt(
        encMaterials(),
      ),
    );
    expect((e as Error).message).toMatch(/no public key/);
    expect(after.calls).toEqual([]);
  });
});

describe('multi-keyring.md#ondecrypt', () => {
  it('If the decryption materials already contain a plaintext data key, the keyring MUST fail and MUST NOT modify the decryption materials.', async () => {
    const g = aes('g');
    const held = randomBytes(32);
    const m = decMaterials(held);
    const e = await rejection(
      new MultiKeyring({ generator: g }).onDecrypt(m, [await edkFor(g, randomBytes(32))]),
    );
    expect(DecryptionError.is(e)).toBe(true);
    expect(m.plaintextDataKey).toBe(held);
  });

  it('Otherwise, OnDecrypt MUST first attempt to decrypt the encrypted data keys in the input decryption materials using its generator keyring. If the generator keyring is unable to decrypt the materials, the multi-keyring MUST attempt to decrypt using its child keyrings, until one either succeeds in decryption or all have failed.', async () => {
    const g = aes('g');
    const c = aes('c');
    const gKey = randomBytes(32);
    const cKey = randomBytes(32);
    // The child's EDK comes first in the list, yet the generator is asked first.
    const edks = [await edkFor(c, cKey), await edkFor(g, gKey)];
    const multi = new MultiKeyring({ generator: g, children: [c] });
    expect((await multi.onDecrypt(decMaterials(), edks)).plaintextDataKey?.equals(gKey)).toBe(true);
    expect(
      (
        await multi.onDecrypt(decMaterials(), [edks[0] as EncryptedDataKey])
      ).plaintextDataKey?.equals(cKey),
    ).toBe(true);
  });

  it("For each keyring to be used for decryption, the multi-keyring MUST call that keyring's OnDecrypt using the unmodified decryption materials and the input encrypted data key list.", async () => {
    const first = new Recorder(new Error('first fails'));
    const second = new Recorder(new Error('second fails'));
    const edks = [await edkFor(aes('x'), randomBytes(32))];
    await rejection(
      new MultiKeyring({ generator: first, children: [second] }).onDecrypt(decMaterials(), edks),
    );
    for (const r of [first, second]) {
      expect(r.calls).toHaveLength(1);
      expect(r.calls[0]?.key).toBeUndefined();
      expect(r.calls[0]?.edks).toBe(edks);
    }
  });

  it("If the child keyring's OnDecrypt call fails, the multi-keyring MUST collect the error and continue to the next keyring, if any.", async () => {
    const c = aes('c');
    const key = randomBytes(32);
    // The generator fails (it has no matching EDK), then so does the first child (no private key
    // problem here: no public-only keyring can decrypt); the last child succeeds.
    const m = await new MultiKeyring({
      generator: decryptOnlyRsa,
      children: [aes('b'), c],
    }).onDecrypt(decMaterials(), [await edkFor(c, key)]);
    expect(m.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If OnDecrypt returns decryption materials containing a plaintext data key, the multi-keyring MUST immediately return the modified decryption materials.', async () => {
    const c = aes('c');
    const key = randomBytes(32);
    const later = new Recorder(randomBytes(32));
    const input = decMaterials();
    const out = await new MultiKeyring({ children: [c, later] }).onDecrypt(input, [
      await edkFor(c, key),
    ]);
    expect(out).toBe(input);
    expect(out.plaintextDataKey?.equals(key)).toBe(true);
    expect(later.calls).toEqual([]);
  });

  it('If, after calling OnDecrypt on every child keyring (and possibly the generator keyring), the decryption materials still do not contain a plaintext data key, OnDecrypt MUST return a failure message containing the collected failure messages from the child keyrings.', async () => {
    const edks = [await edkFor(aes('x'), randomBytes(32))];
    const m = decMaterials();
    const e = await rejection(
      new MultiKeyring({
        generator: decryptOnlyRsa,
        children: [new Recorder(new Error('custom child failed')), new Recorder(undefined)],
      }).onDecrypt(m, edks),
    );
    expect(DecryptionError.is(e)).toBe(true);
    const message = (e as Error).message;
    expect(message).toMatch(/^MultiKeyring: no keyring could decrypt a data key/);
    expect(message).toContain('RawRsaKeyring: no encrypted data key');
    expect(message).toContain('Error: custom child failed');
    expect(((e as Error).cause as AggregateError).errors).toHaveLength(2);
    expect(m.plaintextDataKey).toBeUndefined();
  });
});

describe('a multi-keyring inside decrypt()', () => {
  it('a message no child can decrypt fails with a DecryptionError that names every failure', async () => {
    const { ciphertext } = await encrypt('x', { keyring: aes('elsewhere'), suite: 0x0478 });
    const e = await rejection(
      decrypt(ciphertext, {
        keyring: new MultiKeyring({ generator: decryptOnlyRsa, children: [aes('c')] }),
      }),
    );
    expect(DecryptionError.is(e)).toBe(true);
    const cause = (e as Error).cause as Error;
    expect(DecryptionError.is(cause)).toBe(true);
    expect(cause.message).toContain('RawRsaKeyring: no encrypted data key');
  });
});
