import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@steadykms/core';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError, MessageFormatError } from '../errors.js';
import type { EncryptSuiteId } from '../suites.js';
import { RawAesKeyring } from './RawAesKeyring.js';
import type { Keyring } from './types.js';

const wrappingKey = randomBytes(32);
const options = { keyNamespace: 'ns', keyName: 'k', wrappingKey };

/** The same keyring seen only through its asynchronous methods: encrypt and decrypt take the slow path. */
function asyncOnly(k: RawAesKeyring): Keyring {
  return {
    onEncrypt: (m) => k.onEncrypt(m),
    onDecrypt: (m, edks) => k.onDecrypt(m, edks),
  };
}

/** A raw AES keyring whose asynchronous methods fail: only the synchronous path can succeed. */
class SyncOnly extends RawAesKeyring {
  override onEncrypt(): never {
    throw new Error('the asynchronous onEncrypt was called');
  }
  override onDecrypt(): never {
    throw new Error('the asynchronous onDecrypt was called');
  }
}

describe('the synchronous raw AES path', () => {
  it('encrypt and decrypt of an unsigned message never call the asynchronous keyring methods', async () => {
    const keyring = new SyncOnly(options);
    const { ciphertext } = await encrypt('hello', { keyring, suite: 0x0478 });
    expect((await decrypt(ciphertext, { keyring })).plaintext.toString()).toBe('hello');
  });

  it.each([0x0478, 0x0578] as EncryptSuiteId[])(
    'suite 0x%s: messages cross between the synchronous and asynchronous paths both ways',
    async (suite) => {
      const sync = new RawAesKeyring(options);
      const slow = asyncOnly(new RawAesKeyring(options));
      const pt = randomBytes(5000);
      const ctx = { tenant: 'acme', ü: 'ö' };
      const a = await encrypt(pt, { keyring: sync, suite, encryptionContext: ctx });
      const b = await encrypt(pt, { keyring: slow, suite, encryptionContext: ctx });
      expect((await decrypt(a.ciphertext, { keyring: slow })).plaintext.equals(pt)).toBe(true);
      expect((await decrypt(b.ciphertext, { keyring: sync })).plaintext.equals(pt)).toBe(true);
    },
  );

  it('failures are the same typed rejections on both paths, never synchronous throws', async () => {
    const sync = new RawAesKeyring(options);
    const wrong = new RawAesKeyring({ ...options, wrappingKey: randomBytes(32) });
    const { ciphertext } = await encrypt('x', { keyring: sync, suite: 0x0478 });
    for (const keyring of [wrong, asyncOnly(wrong)]) {
      const p = decrypt(ciphertext, { keyring });
      expect(p).toBeInstanceOf(Promise);
      expect(DecryptionError.is(await p.catch((e: unknown) => e))).toBe(true);
    }
    for (const keyring of [sync, asyncOnly(sync)]) {
      const p = encrypt('x', { keyring, frameLength: 0 });
      expect(p).toBeInstanceOf(Promise);
      expect(await p.catch((e: unknown) => e)).toBeInstanceOf(InvalidOptionError);
      const q = decrypt(ciphertext.subarray(0, 10), { keyring });
      expect(MessageFormatError.is(await q.catch((e: unknown) => e))).toBe(true);
    }
  });
});
