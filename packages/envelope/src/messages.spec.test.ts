/**
 * encrypt.ts, decrypt.ts and suites.ts against client-apis/encrypt.md, client-apis/decrypt.md,
 * framework/algorithm-suites.md and framework/commitment-policy.md: each test is named with the MUST
 * sentence quoted above the code. Messages are opened or forged by hand (spec.testkit.ts).
 */
import { randomBytes, verify } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decrypt } from './decrypt.js';
import { encrypt } from './encrypt.js';
import { DecryptionError, MessageFormatError } from './errors.js';
import { PUBLIC_KEY_CONTEXT_KEY } from './format/encryptionContext.js';
import { parseHeader } from './format/header.js';
import { encryptStream } from './stream/encryptStream.js';
import { AlgorithmSuiteId, allSuites, decryptAllowed, getSuite } from './suites.js';
import { forge, headerBody, keyring, open, publicKeyOf, rejection } from './spec.testkit.js';

describe('encrypt.md#construct-a-frame', () => {
  it('For a regular frame the length of this plaintext MUST equal the frame length.', async () => {
    for (const n of [7 * 5 + 3, 7 * 5, 8]) {
      const pt = randomBytes(n);
      const { ciphertext } = await encrypt(pt, { keyring, suite: 0x0478, frameLength: 7 });
      const { frames, plaintext, end } = open(ciphertext, {});
      expect(end).toBe(ciphertext.length);
      expect(plaintext.equals(pt)).toBe(true);
      const regular = frames.filter((f) => !f.final);
      expect(regular.length).toBe(Math.ceil(n / 7) - 1);
      regular.forEach((f, i) => {
        expect(f.seq).toBe(i + 1);
        expect(f.ciphertext.length).toBe(7);
      });
      expect(frames.at(-1)?.ciphertext.length).toBe(n - 7 * regular.length);
    }
  });

  it('For a regular frame the length of this plaintext subsequence MUST equal the frame length.', async () => {
    // The stream gets the plaintext in pieces that are never a frame long; its frames still are.
    const pt = randomBytes(1000);
    const parts: Buffer[] = [];
    for (let o = 0, i = 0; o < pt.length; o += 1 + (i++ % 13))
      parts.push(pt.subarray(o, o + 1 + (i % 13)));
    const chunks: Buffer[] = [];
    const s = Readable.from(parts).pipe(encryptStream({ keyring, suite: 0x0478, frameLength: 64 }));
    for await (const c of s) chunks.push(c as Buffer);
    const ciphertext = Buffer.concat(chunks);
    const { frames, plaintext, end } = open(ciphertext, {});
    expect(end).toBe(ciphertext.length);
    expect(plaintext.equals(pt)).toBe(true);
    expect(frames.length).toBe(16);
    for (const f of frames.slice(0, -1)) expect(f.ciphertext.length).toBe(64);
    expect(frames.at(-1)?.ciphertext.length).toBe(1000 - 15 * 64);
  });
});

describe('encrypt.md#construct-the-signature', () => {
  it('To calculate a signature, this operation MUST use the signature algorithm specified by the algorithm suite, with the following input: - the signature key is the signing key in the encryption materials - the input to sign is the concatenation of the serialization of the message header and message body', async () => {
    const pt = randomBytes(300);
    const { ciphertext, encryptionContext } = await encrypt(pt, {
      keyring,
      suite: 0x0578,
      frameLength: 128,
      encryptionContext: { a: 'b' },
    });
    const pub = encryptionContext[PUBLIC_KEY_CONTEXT_KEY] as string;
    const { parsed, plaintext, end } = open(ciphertext, encryptionContext);
    expect(plaintext.equals(pt)).toBe(true);
    // The footer: a 2-byte length, then the DER signature, and nothing after it.
    const sigLength = ciphertext.readUInt16BE(end);
    expect(end + 2 + sigLength).toBe(ciphertext.length);
    const signature = ciphertext.subarray(end + 2);
    const key = publicKeyOf(pub);
    const ok = (data: Buffer, hash = 'sha384'): boolean =>
      verify(hash, data, { key, dsaEncoding: 'der' }, signature);
    // ECDSA P-384 with SHA-384 (suite 0x0578), by the key whose public half is in the context, over
    // exactly the header and the body.
    expect(ok(ciphertext.subarray(0, end))).toBe(true);
    expect(ok(ciphertext.subarray(0, end), 'sha256')).toBe(false);
    expect(ok(ciphertext.subarray(parsed.length, end))).toBe(false);
    expect(ok(ciphertext.subarray(0, end - 1))).toBe(false);
    const flipped = Buffer.from(ciphertext.subarray(0, end));
    flipped[parsed.length + 5] = (flipped[parsed.length + 5] as number) ^ 1;
    expect(ok(flipped)).toBe(false);
  });
});

describe('decrypt.md#behavior', () => {
  it('If this operation successfully completes the above steps but there are consumable bytes which are intended to be decrypted, this operation MUST fail.', async () => {
    for (const suite of [0x0478, 0x0578] as const) {
      const { ciphertext } = await encrypt(randomBytes(100), { keyring, suite, frameLength: 32 });
      expect((await decrypt(ciphertext, { keyring })).plaintext.length).toBe(100);
      for (const extra of [Buffer.from([0]), ciphertext]) {
        const e = await rejection(decrypt(Buffer.concat([ciphertext, extra]), { keyring }));
        expect(MessageFormatError.is(e), `0x${suite.toString(16)}`).toBe(true);
      }
    }
  });
});

describe('algorithm-suites.md#supported-algorithm-suites', () => {
  it('The value `00 00` is reserved and MUST NOT be used as an Algorithm Suite ID in the future. Algorithm Suite ID MUST be a unique hex value across all supported algorithm suites.', () => {
    const ids = allSuites().map((s) => s.id);
    expect(ids.length).toBe(11);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain(0);
    expect(getSuite(0x0000)).toBeUndefined();
    const named = Object.values(AlgorithmSuiteId);
    expect(new Set(named).size).toBe(named.length);
    expect([...named].sort()).toEqual([...ids].sort());
    for (const id of named) expect(getSuite(id)?.id).toBe(id);
    // A header naming suite 00 00 is refused.
    const h = headerBody({
      version: 2,
      suiteId: 0x0000,
      messageId: Buffer.alloc(32),
      edks: [{ providerId: 'p', providerInfo: Buffer.alloc(1), encryptedDataKey: Buffer.alloc(1) }],
      contentType: 2,
      frameLength: 64,
      suiteData: Buffer.alloc(32),
    });
    expect(() => parseHeader(Buffer.concat([h, Buffer.alloc(16)]))).toThrow(MessageFormatError);
  });
});

describe('commitment-policy.md#esdkrequire_encrypt_require_decrypt', () => {
  it('Decrypt Materials MUST only support algorithm suites that have a Key Commitment value of True', async () => {
    for (const s of allSuites()) {
      expect(decryptAllowed('REQUIRE_ENCRYPT_REQUIRE_DECRYPT', s)).toBe(s.committing);
      expect(decryptAllowed('REQUIRE_ENCRYPT_ALLOW_DECRYPT', s)).toBe(true);
    }
    const pt = Buffer.from('legacy message');
    const legacy = await forge({ suiteId: 0x0178, plaintext: pt });
    const committed = await forge({ suiteId: 0x0478, plaintext: pt });
    // The default policy is REQUIRE_ENCRYPT_REQUIRE_DECRYPT.
    expect(DecryptionError.is(await rejection(decrypt(legacy, { keyring })))).toBe(true);
    const policy = 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT';
    expect(
      DecryptionError.is(await rejection(decrypt(legacy, { keyring, commitmentPolicy: policy }))),
    ).toBe(true);
    expect((await decrypt(committed, { keyring })).plaintext.equals(pt)).toBe(true);
    const allow = { keyring, commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' } as const;
    expect((await decrypt(legacy, allow)).plaintext.equals(pt)).toBe(true);
  });
});
