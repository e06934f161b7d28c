/**
 * kdf.ts against framework/algorithm-suites.md (key derivation) and client-apis/decrypt.md (key
 * commitment): each test is named with the MUST sentence quoted above the code. The expected keys are
 * computed with node:crypto's hkdfSync from the specification's salts and infos (spec.testkit.ts).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError } from '../errors.js';
import { decryptStream } from '../stream/decryptStream.js';
import { allSuites } from '../suites.js';
import { forge, keyring, keysFor, open, rejection, suite } from '../spec.testkit.js';
import { deriveKeys, verifyCommitment } from './kdf.js';

describe('algorithm-suites.md', () => {
  it('The specified KDF algorithm MUST be used to generate the encryption algorithm encryption key input.', async () => {
    for (const s of allSuites()) {
      const dataKey = randomBytes(s.keyLength);
      const messageId = randomBytes(s.messageFormat === 2 ? 32 : 16);
      const { key } = deriveKeys(s, dataKey, messageId);
      // Identity for the NO_KDF suites, HKDF-SHA256/384 (v1) or HKDF-SHA512 (v2) otherwise.
      expect(key.equals(keysFor(s, dataKey, messageId).key), `0x${s.id.toString(16)}`).toBe(true);
      expect(key.length).toBe(s.keyLength);
      expect(key.equals(dataKey)).toBe(s.kdfHash === undefined);
    }
    // The keys a message is written with: open() decrypts every frame with the hkdfSync key.
    for (const id of [0x0478, 0x0578] as const) {
      const pt = randomBytes(100);
      const r = await encrypt(pt, { keyring, suite: id, frameLength: 40 });
      expect(open(r.ciphertext, r.encryptionContext).plaintext.equals(pt)).toBe(true);
    }
    // And the keys a message is read with: messages forged with the hkdfSync key decrypt.
    const allow = { keyring, commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' } as const;
    for (const id of [0x0014, 0x0046, 0x0114, 0x0178, 0x0478]) {
      const pt = randomBytes(70);
      const msg = await forge({ suiteId: id, plaintext: pt, frameLength: 32 });
      expect((await decrypt(msg, allow)).plaintext.equals(pt), `0x${id.toString(16)}`).toBe(true);
    }
  });

  it('The specified KDF algorithm MUST be used to generate the commit key.', async () => {
    for (const id of [0x0478, 0x0578]) {
      const s = suite(id);
      const dataKey = randomBytes(32);
      const messageId = randomBytes(32);
      const { key, commitKey } = deriveKeys(s, dataKey, messageId);
      const expected = keysFor(s, dataKey, messageId).commitKey as Buffer;
      expect(commitKey?.equals(expected)).toBe(true);
      expect(commitKey?.equals(key)).toBe(false);
    }
    for (const s of allSuites()) {
      if (!s.committing)
        expect(deriveKeys(s, randomBytes(s.keyLength), randomBytes(16)).commitKey).toBeUndefined();
    }
    const r = await encrypt('x', { keyring, suite: 0x0478 });
    const { parsed, commitKey } = open(r.ciphertext, {});
    expect(parsed.header.suiteData.equals(commitKey as Buffer)).toBe(true);
  });
});

describe('decrypt.md#get-the-decryption-materials', () => {
  it('The derived commit key MUST equal the commit key stored in the message header.', async () => {
    const a = randomBytes(32);
    verifyCommitment(a, Buffer.from(a));
    const b = Buffer.from(a);
    b[31] = (b[31] as number) ^ 1;
    expect(() => verifyCommitment(a, b)).toThrow(DecryptionError);
    expect(() => verifyCommitment(a, a.subarray(0, 31))).toThrow(DecryptionError);
    // A forged message whose header is authentic (its tag is computed over the wrong commitment) but
    // whose suite data is not the commit key: only the commitment check can catch it.
    const pt = Buffer.from('committed');
    expect(
      (
        await decrypt(await forge({ suiteId: 0x0478, plaintext: pt }), { keyring })
      ).plaintext.equals(pt),
    ).toBe(true);
    const wrong = await forge({ suiteId: 0x0478, plaintext: pt, suiteData: randomBytes(32) });
    const e = await rejection(decrypt(wrong, { keyring }));
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/commitment/);
    const chunks: Buffer[] = [];
    const s = Readable.from([wrong]).pipe(decryptStream({ keyring }));
    const se = await rejection(
      (async () => {
        for await (const c of s) chunks.push(c as Buffer);
      })(),
    );
    expect(DecryptionError.is(se)).toBe(true);
    expect(chunks).toEqual([]);
  });
});
