import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@steadykms/core';
import {
  DecryptionError,
  MessageFormatError,
  MultiKeyring,
  RawAesKeyring,
  decrypt,
  encrypt,
  parseHeader,
  DefaultMaterialsManager,
  type EncryptSuiteId,
  type MaterialsManager,
} from './index.js';

const keyring = new RawAesKeyring({
  keyNamespace: 'ns',
  keyName: 'k1',
  wrappingKey: randomBytes(32),
});
const other = new RawAesKeyring({
  keyNamespace: 'ns',
  keyName: 'k2',
  wrappingKey: randomBytes(32),
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe.each([
  ['0478', 0x0478],
  ['0578', 0x0578],
] as Array<[string, EncryptSuiteId]>)('suite 0x%s', (_hex, suite) => {
  it.each([0, 1, 100, 4095, 4096, 4097, 8192, 20000])('round-trips %i bytes', async (n) => {
    const pt = randomBytes(n);
    const { ciphertext } = await encrypt(pt, {
      keyring,
      suite,
      encryptionContext: { purpose: 'test', ключ: 'значение' },
    });
    const r = await decrypt(ciphertext, { keyring });
    expect(r.plaintext.equals(pt)).toBe(true);
    expect(r.encryptionContext['ключ']).toBe('значение');
    expect(r.suiteId).toBe(suite);
  });

  it('frame length 1 writes one frame per byte', async () => {
    const pt = randomBytes(33);
    const { ciphertext } = await encrypt(pt, { keyring, suite, frameLength: 1 });
    expect((await decrypt(ciphertext, { keyring })).plaintext.equals(pt)).toBe(true);
  });

  it('every byte of a small message flipped one at a time is rejected', async () => {
    const { ciphertext } = await encrypt(Buffer.from('a small message, two frames'), {
      keyring,
      suite,
      frameLength: 16,
      encryptionContext: { a: 'b' },
    });
    for (let i = 0; i < ciphertext.length; i++) {
      const bad = Buffer.from(ciphertext);
      bad[i] = (bad[i] as number) ^ 0x01;
      const e = await rejection(decrypt(bad, { keyring }));
      expect(DecryptionError.is(e) || MessageFormatError.is(e), `byte ${i}`).toBe(true);
    }
  });

  it('truncation at every length is rejected', async () => {
    const { ciphertext } = await encrypt(Buffer.from('truncate me please'), {
      keyring,
      suite,
      frameLength: 8,
    });
    for (let i = 0; i < ciphertext.length; i++) {
      const e = await rejection(decrypt(ciphertext.subarray(0, i), { keyring }));
      expect(DecryptionError.is(e) || MessageFormatError.is(e), `length ${i}`).toBe(true);
    }
  });
});

describe('encrypt and decrypt options', () => {
  it('defaults to suite 0x0578 and frame length 4096', async () => {
    const { ciphertext, suiteId, encryptionContext } = await encrypt('hello', { keyring });
    expect(suiteId).toBe(0x0578);
    expect(encryptionContext['aws-crypto-public-key']).toBeTypeOf('string');
    expect(parseHeader(ciphertext)?.header.frameLength).toBe(4096);
  });

  it('reserved aws-crypto- context keys are refused on input', async () => {
    const e = await rejection(
      encrypt('x', { keyring, encryptionContext: { 'aws-crypto-public-key': 'x' } }),
    );
    expect(InvalidOptionError.is(e)).toBe(true);
  });

  it('a wrong key fails with DecryptionError', async () => {
    const { ciphertext } = await encrypt('x', { keyring, suite: 0x0478 });
    expect(DecryptionError.is(await rejection(decrypt(ciphertext, { keyring: other })))).toBe(true);
  });

  it('trailing bytes are refused', async () => {
    const { ciphertext } = await encrypt('x', { keyring, suite: 0x0478 });
    const e = await rejection(decrypt(Buffer.concat([ciphertext, Buffer.from([0])]), { keyring }));
    expect(MessageFormatError.is(e)).toBe(true);
  });

  it('maxEncryptedDataKeys limits encrypt and decrypt', async () => {
    const multi = new MultiKeyring({ generator: keyring, children: [other] });
    expect(
      InvalidOptionError.is(
        await rejection(encrypt('x', { keyring: multi, maxEncryptedDataKeys: 1 })),
      ),
    ).toBe(true);
    const { ciphertext } = await encrypt('x', { keyring: multi, suite: 0x0478 });
    expect(
      MessageFormatError.is(
        await rejection(decrypt(ciphertext, { keyring: other, maxEncryptedDataKeys: 1 })),
      ),
    ).toBe(true);
    expect(
      (await decrypt(ciphertext, { keyring: other, maxEncryptedDataKeys: 2 })).plaintext.toString(),
    ).toBe('x');
  });

  it('the encryption context given at decrypt must match the stored one', async () => {
    const { ciphertext } = await encrypt('x', {
      keyring,
      suite: 0x0478,
      encryptionContext: { tenant: 'a' },
    });
    expect(
      (
        await decrypt(ciphertext, { keyring, encryptionContext: { tenant: 'a' } })
      ).plaintext.toString(),
    ).toBe('x');
    expect(
      DecryptionError.is(
        await rejection(decrypt(ciphertext, { keyring, encryptionContext: { tenant: 'b' } })),
      ),
    ).toBe(true);
    // A pair the message does not store is authenticated, so the header tag fails.
    expect(
      DecryptionError.is(
        await rejection(decrypt(ciphertext, { keyring, encryptionContext: { other: 'c' } })),
      ),
    ).toBe(true);
  });

  it('required encryption context keys are authenticated but not stored', async () => {
    const { ciphertext } = await encrypt('x', {
      keyring,
      suite: 0x0478,
      encryptionContext: { tenant: 'a', secretish: 'b' },
      requiredEncryptionContextKeys: ['secretish'],
    });
    expect(parseHeader(ciphertext)?.header.encryptionContext).toEqual({ tenant: 'a' });
    expect(DecryptionError.is(await rejection(decrypt(ciphertext, { keyring })))).toBe(true);
    const r = await decrypt(ciphertext, {
      keyring,
      encryptionContext: { secretish: 'b' },
      requiredEncryptionContextKeys: ['secretish'],
    });
    expect(r.plaintext.toString()).toBe('x');
    expect(r.encryptionContext).toEqual({ tenant: 'a', secretish: 'b' });
  });

  it('REQUIRE_ENCRYPT_REQUIRE_DECRYPT refuses non-committing messages and FORBID refuses to encrypt', async () => {
    expect(
      InvalidOptionError.is(
        await rejection(
          encrypt('x', { keyring, commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' }),
        ),
      ),
    ).toBe(true);
  });

  it('an unsigned message whose context carries a signing public key is refused', async () => {
    const inner = new DefaultMaterialsManager(keyring);
    const sneaky: MaterialsManager = {
      getEncryptionMaterials: async (req) => {
        const m = await inner.getEncryptionMaterials(req);
        return {
          ...m,
          encryptionContext: { ...m.encryptionContext, 'aws-crypto-public-key': 'AAAA' },
        };
      },
      decryptMaterials: (req) => inner.decryptMaterials(req),
    };
    const { ciphertext } = await encrypt('x', { materialsManager: sneaky, suite: 0x0478 });
    expect(DecryptionError.is(await rejection(decrypt(ciphertext, { keyring })))).toBe(true);
  });

  //= aws-encryption-sdk-specification/client-apis/decrypt.md#behavior
  //# The ESDK MUST provide a configuration option that causes the decryption operation to fail immediately after parsing the header if a signed algorithm suite is used.
  it('The ESDK MUST provide a configuration option that causes the decryption operation to fail immediately after parsing the header if a signed algorithm suite is used.', async () => {
    const signed = await encrypt('x', { keyring, suite: 0x0578 });
    const unsigned = await encrypt('x', { keyring, suite: 0x0478 });
    expect(
      DecryptionError.is(
        await rejection(decrypt(signed.ciphertext, { keyring, unsignedOnly: true })),
      ),
    ).toBe(true);
    expect(
      (await decrypt(unsigned.ciphertext, { keyring, unsignedOnly: true })).plaintext.toString(),
    ).toBe('x');
  });

  it('strings are encrypted as UTF-8 and base64 strings decrypt', async () => {
    const { ciphertext } = await encrypt('héllo', { keyring, suite: 0x0478 });
    expect(
      (await decrypt(ciphertext.toString('base64'), { keyring })).plaintext.toString('utf8'),
    ).toBe('héllo');
  });
});
