import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MessageFormatError } from '../errors.js';
import { getSuite } from '../suites.js';
import { parseEncryptionContext, serializeEncryptionContext } from './encryptionContext.js';
import { parseHeader, serializeHeaderBody } from './header.js';
import { frameCounts, framedBodySize, parseFooter, parseFrame, serializeFooter } from './body.js';

const context = fc.dictionary(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  { maxKeys: 6 },
);
const edk = fc.record({
  providerId: fc.string({ minLength: 1, maxLength: 10 }),
  providerInfo: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  encryptedDataKey: fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => Buffer.from(b)),
});

describe('encryption context', () => {
  it('serialize then parse is the identity', () => {
    fc.assert(
      fc.property(context, (ctx) => {
        expect(parseEncryptionContext(serializeEncryptionContext(ctx))).toEqual({ ...ctx });
      }),
    );
  });

  //= aws-encryption-sdk-specification/framework/structures.md#key-value-pair-entries
  //# These entries MUST be sorted, by key, in ascending order according to the UTF-8 encoded binary
  //# value.
  it('These entries MUST be sorted, by key, in ascending order according to the UTF-8 encoded binary value.', () => {
    // UTF-16 code-unit order puts U+1F600 (a surrogate pair, 0xD83D...) before U+FF61; UTF-8 byte order does not.
    const a = serializeEncryptionContext({ '\uff61': '1', '\u{1f600}': '2', b: '3' });
    const keys: string[] = [];
    let o = 2;
    for (let i = 0; i < 3; i++) {
      const kl = a.readUInt16BE(o);
      keys.push(a.subarray(o + 2, o + 2 + kl).toString('utf8'));
      o += 2 + kl;
      o += 2 + a.readUInt16BE(o);
    }
    const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(keys).toEqual(sorted);
    expect(keys).toEqual(['b', '\uff61', '\u{1f600}']);
  });

  it('an empty context serialises to zero bytes; a zero count, duplicates and trailing bytes are refused', () => {
    expect(serializeEncryptionContext({}).length).toBe(0);
    expect(() => parseEncryptionContext(Buffer.from([0, 0]))).toThrow(MessageFormatError);
    const one = serializeEncryptionContext({ a: 'b' });
    const dup = Buffer.concat([Buffer.from([0, 2]), one.subarray(2), one.subarray(2)]);
    expect(() => parseEncryptionContext(dup)).toThrow(/duplicate/);
    expect(() => parseEncryptionContext(Buffer.concat([one, Buffer.from([0])]))).toThrow(
      /after the last pair/,
    );
  });
});

describe('header', () => {
  it.each(['0478', '0578', '0178', '0014'])(
    'serialize then parse round-trips a 0x%s header',
    (hex) => {
      const id = parseInt(hex, 16);
      const suite = getSuite(id);
      if (!suite) throw new Error('suite');
      fc.assert(
        fc.property(
          context,
          fc.array(edk, { minLength: 1, maxLength: 3 }),
          fc.integer({ min: 1, max: 2 ** 32 - 1 }),
          (ctx, edks, frameLength) => {
            const messageId = Buffer.alloc(suite.messageFormat === 2 ? 32 : 16, 7);
            const { buf, length } = serializeHeaderBody(
              {
                suite,
                messageId,
                serializedContext: serializeEncryptionContext(ctx),
                encryptedDataKeys: edks,
                contentType: 2,
                frameLength,
                suiteData: Buffer.alloc(32, 9),
              },
              suite.messageFormat === 1 ? 28 : 16,
            );
            const p = parseHeader(buf);
            expect(p?.length).toBe(buf.length);
            expect(p?.headerBody.length).toBe(length);
            expect(p?.header.encryptionContext).toEqual({ ...ctx });
            expect(p?.header.encryptedDataKeys).toEqual(edks);
            expect(p?.header.frameLength).toBe(frameLength);
            // Every strict prefix asks for more bytes instead of failing.
            expect(parseHeader(buf.subarray(0, buf.length - 1))).toBeUndefined();
          },
        ),
        { numRuns: 50 },
      );
    },
  );

  it('arbitrary bytes either parse, ask for more, or throw MessageFormatError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(1, 2), (bytes, v) => {
        const b = Buffer.from(bytes);
        if (b.length > 0) b[0] = v;
        try {
          parseHeader(b);
        } catch (e) {
          expect(MessageFormatError.is(e)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('body and footer', () => {
  it('frame counts: regular frames then a final frame of 1..frameLength bytes (empty only for empty plaintext)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 5000 }),
        (n, fl) => {
          const { regular, finalLength } = frameCounts(n, fl);
          expect(regular * fl + finalLength).toBe(n);
          expect(finalLength).toBeLessThanOrEqual(fl);
          if (n > 0) expect(finalLength).toBeGreaterThan(0);
          expect(framedBodySize(n, fl)).toBe(regular * (32 + fl) + 40 + finalLength);
        },
      ),
    );
  });

  //= aws-encryption-sdk-specification/client-apis/decrypt.md#decrypt-the-message-body
  //# If deserializing a final frame, this operation MUST ensure that the length of the encrypted content field is less than or equal to the frame length deserialized in the message header.
  it('If deserializing a final frame, this operation MUST ensure that the length of the encrypted content field is less than or equal to the frame length deserialized in the message header.', () => {
    const f = Buffer.alloc(4 + 4 + 12 + 4 + 20 + 16);
    f.writeUInt32BE(0xffffffff, 0);
    f.writeUInt32BE(1, 4);
    f.writeUInt32BE(20, 20);
    expect(parseFrame(f, 0, 20)?.ciphertext.length).toBe(20);
    expect(() => parseFrame(f, 0, 19)).toThrow(MessageFormatError);
  });

  it('footer round-trips', () => {
    const sig = Buffer.alloc(103, 3);
    expect(parseFooter(serializeFooter(sig), 0)?.signature.equals(sig)).toBe(true);
    expect(parseFooter(serializeFooter(sig).subarray(0, 50), 0)).toBeUndefined();
  });
});
