/**
 * DecryptSession.ts, EncryptSession.ts, FrameCipher.ts and options.ts against client-apis/encrypt.md,
 * client-apis/decrypt.md, framework/commitment-policy.md, framework/algorithm-suites.md and
 * framework/required-encryption-context-cmm.md: each test is named with the MUST sentence quoted above
 * the code. Messages are opened or forged by hand (spec.testkit.ts).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@steadykms/core';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError, MessageFormatError } from '../errors.js';
import { parseHeader } from '../format/header.js';
import { MultiKeyring } from '../keyrings/MultiKeyring.js';
import { RawAesKeyring } from '../keyrings/RawAesKeyring.js';
import { encryptStream } from '../stream/encryptStream.js';
import type { EncryptSuiteId } from '../suites.js';
import {
  contextBytes,
  countingKeyring,
  forge,
  keyring,
  open,
  rejection,
  seal,
  streamDecrypt,
  streamError,
  suite,
} from '../spec.testkit.js';

const flip = (b: Buffer, i: number): Buffer => {
  const c = Buffer.from(b);
  c[i] = (c[i] as number) ^ 1;
  return c;
};

describe('decrypt.md#get-the-decryption-materials', () => {
  it('If the parsed algorithm suite ID is not supported by the commitment policy configured in the client decrypt MUST yield an error.', async () => {
    const pt = Buffer.from('legacy');
    for (const id of [0x0014, 0x0178]) {
      const msg = await forge({ suiteId: id, plaintext: pt });
      const k = countingKeyring();
      const e = await rejection(decrypt(msg, { keyring: k.keyring }));
      expect(DecryptionError.is(e)).toBe(true);
      expect((e as Error).message).toMatch(/commitment policy/);
      const s = await streamDecrypt([msg], { keyring: k.keyring });
      expect(DecryptionError.is(s.error)).toBe(true);
      expect(s.out.length).toBe(0);
      // Refused from the header alone: no keyring was asked for the data key.
      expect(k.decrypts()).toBe(0);
      const allow = {
        keyring: k.keyring,
        commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT',
      } as const;
      expect((await decrypt(msg, allow)).plaintext.equals(pt)).toBe(true);
    }
  });
});

describe('decrypt.md#behavior', () => {
  it('The ESDK MUST provide a configuration option that causes the decryption operation to fail immediately after parsing the header if a signed algorithm suite is used.', async () => {
    const signed = await encrypt(randomBytes(100), { keyring, suite: 0x0578 });
    const unsigned = await encrypt(randomBytes(100), { keyring, suite: 0x0478 });
    const k = countingKeyring();
    const e = await rejection(
      decrypt(signed.ciphertext, { keyring: k.keyring, unsignedOnly: true }),
    );
    expect(DecryptionError.is(e)).toBe(true);
    // The header alone is enough for the stream to fail; nothing after it is needed or released.
    const header = signed.ciphertext.subarray(0, parseHeader(signed.ciphertext)?.length);
    const s = await streamDecrypt([header], { keyring: k.keyring, unsignedOnly: true });
    expect(DecryptionError.is(s.error)).toBe(true);
    expect(s.header).toBe(false);
    expect(k.decrypts()).toBe(0);
    expect(
      (await decrypt(unsigned.ciphertext, { keyring, unsignedOnly: true })).plaintext.length,
    ).toBe(100);
    expect((await decrypt(signed.ciphertext, { keyring })).plaintext.length).toBe(100);
  });
});

describe('required-encryption-context-cmm.md#decrypt-materials', () => {
  it('The reproduced encryption context on the decrypt materials request MUST contain a value for every key in the configured required encryption context keys or this request MUST fail.', async () => {
    const { ciphertext } = await encrypt('x', {
      keyring,
      suite: 0x0478,
      encryptionContext: { stored: '1', held: '2' },
      requiredEncryptionContextKeys: ['held'],
    });
    const k = countingKeyring();
    const ok = await decrypt(ciphertext, { keyring: k.keyring, encryptionContext: { held: '2' } });
    expect(ok.plaintext.toString()).toBe('x');
    const calls = k.decrypts();
    // `stored` would not be needed to decrypt, but it is required: without it in the reproduced context,
    // the request fails before any keyring call.
    for (const encryptionContext of [undefined, { held: '2' }, { held: '2', other: 'stored' }]) {
      const e = await rejection(
        decrypt(ciphertext, {
          keyring: k.keyring,
          requiredEncryptionContextKeys: ['stored', 'held'],
          ...(encryptionContext ? { encryptionContext } : {}),
        }),
      );
      expect(DecryptionError.is(e)).toBe(true);
    }
    expect(k.decrypts()).toBe(calls);
    const all = { stored: '1', held: '2' };
    const r = await decrypt(ciphertext, {
      keyring,
      requiredEncryptionContextKeys: ['stored', 'held'],
      encryptionContext: all,
    });
    expect(r.encryptionContext).toEqual(all);
  });
});

describe('decrypt.md#verify-the-header', () => {
  it('The AAD MUST be the concatenation of the serialized message header body and the serialization of encryption context to only authenticate.', async () => {
    // The forged header's tag is computed over header body || serialize({ held: 'v', other: 'w' }).
    const pt = Buffer.from('auth only');
    const msg = await forge({
      suiteId: 0x0478,
      plaintext: pt,
      context: { stored: 's' },
      authOnly: { held: 'v', other: 'w' },
    });
    const r = await decrypt(msg, { keyring, encryptionContext: { held: 'v', other: 'w' } });
    expect(r.plaintext.equals(pt)).toBe(true);
    expect(r.encryptionContext).toEqual({ stored: 's', held: 'v', other: 'w' });
    // The data key still unwraps (the keyring sees the same context) but the header tag was computed over
    // another AAD: the header body alone, or with only some of the pairs.
    for (const tagAuthOnly of [{}, { held: 'v' }, { other: 'w' }]) {
      const wrong = await forge({
        suiteId: 0x0478,
        plaintext: pt,
        context: { stored: 's' },
        authOnly: { held: 'v', other: 'w' },
        tagAuthOnly,
      });
      const e = await rejection(
        decrypt(wrong, { keyring, encryptionContext: { held: 'v', other: 'w' } }),
      );
      expect(DecryptionError.is(e)).toBe(true);
      expect((e as Error).message).toMatch(/header authentication failed/);
    }
  });

  it('If this tag verification fails, this operation MUST immediately halt and fail.', async () => {
    const pt = randomBytes(300);
    const { ciphertext } = await encrypt(pt, { keyring, suite: 0x0478, frameLength: 64 });
    const p = parseHeader(ciphertext);
    if (!p) throw new Error('header');
    const frameLengthAt = p.headerBody.length - 32 - 4;
    expect(ciphertext.readUInt32BE(frameLengthAt)).toBe(64);
    // The last tag byte, and a byte of the header body nothing checks before the tag (the frame length).
    for (const bad of [flip(ciphertext, p.length - 1), flip(ciphertext, frameLengthAt + 3)]) {
      const e = await rejection(decrypt(bad, { keyring }));
      expect(DecryptionError.is(e)).toBe(true);
      expect((e as Error).message).toMatch(/header authentication failed/);
      const s = await streamDecrypt([bad], { keyring });
      expect(DecryptionError.is(s.error)).toBe(true);
      expect(s.header).toBe(false);
      expect(s.out.length).toBe(0);
    }
  });
});

describe('decrypt.md#decrypt-the-message-body', () => {
  it('Otherwise, this value MUST be 1 greater than the value of the sequence number of the previous frame.', async () => {
    // Whole-message decrypt, and the stream's frame-by-frame path (frames too large to batch).
    for (const frameLength of [16, 600_000]) {
      const pt = randomBytes(frameLength * 4 + 1);
      const { ciphertext: ct } = await encrypt(pt, { keyring, suite: 0x0478, frameLength });
      const { frames } = open(ct, {});
      const [f1, f2, f3] = frames as [(typeof frames)[0], (typeof frames)[0], (typeof frames)[0]];
      const final = frames.at(-1) as (typeof frames)[0];
      const seg = (f: typeof f1): Buffer => ct.subarray(f.start, f.end);
      const finalSeq = Buffer.from(ct);
      finalSeq.writeUInt32BE(final.seq + 1, final.start + 4);
      const bad = [
        Buffer.concat([ct.subarray(0, f1.end), seg(f1), ct.subarray(f1.end)]), // 1, 1, ...
        Buffer.concat([ct.subarray(0, f2.start), seg(f3), seg(f2), ct.subarray(f3.end)]), // 1, 3, 2
        Buffer.concat([ct.subarray(0, f2.start), ct.subarray(f2.end)]), // 1, 3
        finalSeq,
      ];
      for (const m of bad) {
        // A sequence error, found before the frame's tag is checked: MessageFormatError, not a tag failure.
        const e = await rejection(decrypt(m, { keyring }));
        expect(MessageFormatError.is(e), `${frameLength}`).toBe(true);
        expect((e as Error).message).toMatch(/sequence number/);
        if (frameLength > 16) {
          const s = await streamDecrypt([m], { keyring });
          expect(MessageFormatError.is(s.error)).toBe(true);
          expect((s.error as Error).message).toMatch(/sequence number/);
        }
      }
      expect((await decrypt(ct, { keyring })).plaintext.equals(pt)).toBe(true);
    }
  });
});

describe('decrypt.md#verify-the-signature', () => {
  it('If this verification is not successful, this operation MUST immediately halt and fail.', async () => {
    const pt = randomBytes(200);
    const r = await encrypt(pt, { keyring, suite: 0x0578, frameLength: 64 });
    const { ciphertext } = r;
    const other = await encrypt(pt, { keyring, suite: 0x0578, frameLength: 64 });
    const { end } = open(ciphertext, r.encryptionContext);
    // A flipped signature byte, and a signature by another key (a valid footer of another message).
    const { end: otherEnd } = open(other.ciphertext, other.encryptionContext);
    for (const bad of [
      flip(ciphertext, ciphertext.length - 3),
      Buffer.concat([ciphertext.subarray(0, end), other.ciphertext.subarray(otherEnd)]),
    ]) {
      const e = await rejection(decrypt(bad, { keyring }));
      expect(DecryptionError.is(e)).toBe(true);
      expect((e as Error).message).toMatch(/signature/);
      const s = await streamDecrypt([bad], { keyring });
      expect(DecryptionError.is(s.error)).toBe(true);
      expect(s.out.equals(pt.subarray(0, 192))).toBe(true);
    }
  });
});

describe('commitment-policy.md#esdkforbid_encrypt_allow_decrypt', () => {
  it('Get Encryption Materials MUST only support algorithm suites that have a Key Commitment value of False', async () => {
    // Deviation (documented in EncryptSession.ts): this package writes only committing suites, so under
    // FORBID_ENCRYPT_ALLOW_DECRYPT it refuses to encrypt rather than write a committing suite.
    const forbid = { keyring, commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' } as const;
    for (const s of [0x0478, 0x0578] as const)
      expect(InvalidOptionError.is(await rejection(encrypt('x', { ...forbid, suite: s })))).toBe(
        true,
      );
    const stream = encryptStream(forbid);
    const err = streamError(stream);
    stream.end('x');
    expect(InvalidOptionError.is(await err)).toBe(true);
    // Decryption under the policy still reads the legacy, non-committing suites.
    const legacy = await forge({ suiteId: 0x0178, plaintext: Buffer.from('old') });
    expect((await decrypt(legacy, forbid)).plaintext.toString()).toBe('old');
  });
});

describe('encrypt.md#get-the-encryption-materials', () => {
  it('If the number of encrypted data keys on the encryption materials is greater than the maximum number of encrypted data keys configured in the client encrypt MUST yield an error.', async () => {
    const second = new RawAesKeyring({
      keyNamespace: 'ns',
      keyName: 'b',
      wrappingKey: randomBytes(32),
    });
    const multi = new MultiKeyring({ generator: keyring, children: [second, second] });
    for (const max of [1, 2]) {
      const e = await rejection(encrypt('x', { keyring: multi, maxEncryptedDataKeys: max }));
      expect(InvalidOptionError.is(e), `${max}`).toBe(true);
    }
    const { ciphertext } = await encrypt('x', { keyring: multi, maxEncryptedDataKeys: 3 });
    expect(parseHeader(ciphertext)?.header.encryptedDataKeys.length).toBe(3);
  });
});

describe('algorithm-suites.md#supported-algorithm-suite-data', () => {
  it('Algorithm Suite 05 78 MUST store the commit key in the suite data Algorithm Suite 04 78 MUST store the commit key in the suite data', async () => {
    for (const id of [0x0478, 0x0578] as EncryptSuiteId[]) {
      const r = await encrypt('x', { keyring, suite: id });
      const { parsed, commitKey } = open(r.ciphertext, r.encryptionContext);
      expect(parsed.header.suite.id).toBe(id);
      expect(commitKey?.length).toBe(32);
      expect(parsed.header.suiteData.equals(commitKey as Buffer)).toBe(true);
      // The last 32 bytes of the header body.
      expect(parsed.headerBody.subarray(-32).equals(commitKey as Buffer)).toBe(true);
    }
  });
});

describe('encrypt.md#construct-the-header', () => {
  it('The AAD MUST be the concatenation of the serialized message header body and the serialization of encryption context to only authenticate.', async () => {
    const context = { stored: 's', held: 'v', other: 'w' };
    const r = await encrypt('x', {
      keyring,
      suite: 0x0478,
      encryptionContext: context,
      requiredEncryptionContextKeys: ['other', 'held'],
    });
    const { parsed, key } = open(r.ciphertext, context);
    expect(parsed.header.encryptionContext).toEqual({ stored: 's' });
    const tag = (aad: Buffer): Buffer =>
      seal(suite(0x0478), key, Buffer.alloc(12), aad, Buffer.alloc(0));
    const authOnly = contextBytes({ held: 'v', other: 'w' });
    expect(parsed.headerTag.equals(tag(Buffer.concat([parsed.headerBody, authOnly])))).toBe(true);
    expect(parsed.headerTag.equals(tag(parsed.headerBody))).toBe(false);
    // With nothing held back, the AAD is the header body alone.
    const plain = await encrypt('x', { keyring, suite: 0x0478, encryptionContext: context });
    const o = open(plain.ciphertext, context);
    expect(
      o.parsed.headerTag.equals(
        seal(suite(0x0478), o.key, Buffer.alloc(12), o.parsed.headerBody, Buffer.alloc(0)),
      ),
    ).toBe(true);
  });
});

describe('encrypt.md#encryption-context', () => {
  it('The prefix `aws-crypto-` is reserved for internal use by the AWS Encryption SDK; see the the Default CMM spec for one such use. If the input encryption context contains any entries with a key beginning with this prefix, the encryption operation MUST fail.', async () => {
    for (const k of ['aws-crypto-public-key', 'aws-crypto-', 'aws-crypto-anything']) {
      const encryptionContext = { ok: '1', [k]: 'x' };
      for (const suite of [0x0478, 0x0578] as const) {
        const e = await rejection(encrypt('x', { keyring, suite, encryptionContext }));
        expect(InvalidOptionError.is(e), k).toBe(true);
      }
      const stream = encryptStream({ keyring, encryptionContext });
      const err = streamError(stream);
      stream.end('x');
      expect(InvalidOptionError.is(await err)).toBe(true);
    }
    // Only the prefix is reserved.
    for (const k of ['aws-crypto', 'x-aws-crypto-', 'AWS-CRYPTO-']) {
      const r = await encrypt('x', { keyring, suite: 0x0478, encryptionContext: { [k]: 'v' } });
      expect((await decrypt(r.ciphertext, { keyring })).encryptionContext).toEqual({ [k]: 'v' });
    }
  });
});
