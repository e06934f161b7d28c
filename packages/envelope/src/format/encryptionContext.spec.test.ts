/**
 * encryptionContext.ts against framework/structures.md (encryption context serialisation): each test is
 * named with the MUST sentence quoted above the code.
 */
import { describe, expect, it } from 'vitest';
import { encrypt } from '../encrypt.js';
import { MessageFormatError } from '../errors.js';
import { headerBody, keyring } from '../spec.testkit.js';
import { parseEncryptionContext, serializeEncryptionContext } from './encryptionContext.js';
import { parseHeader } from './header.js';

/** The keys of serialised pairs, in the order they are written. */
function keysOf(bytes: Buffer): string[] {
  const keys: string[] = [];
  let o = 2;
  for (let i = 0; i < bytes.readUInt16BE(0); i++) {
    const kl = bytes.readUInt16BE(o);
    keys.push(bytes.toString('utf8', o + 2, o + 2 + kl));
    o += 2 + kl;
    o += 2 + bytes.readUInt16BE(o);
  }
  expect(o).toBe(bytes.length);
  return keys;
}

describe('structures.md', () => {
  it('These entries MUST be sorted, by key, in ascending order according to the UTF-8 encoded binary value.', async () => {
    // U+FF61 is EF BD A1 in UTF-8 and U+1F600 is F0 9F 98 80, but in UTF-16 the emoji's surrogate D83D
    // sorts first: a JavaScript string sort gets this order wrong; a byte sort gets it right.
    const ctx = { z: '1', '\u{1F600}': '2', a: '3', '\uFF61': '4', B: '5', é: '6', aa: '7' };
    const expected = ['B', 'a', 'aa', 'z', 'é', '\uFF61', '\u{1F600}'];
    expect(Object.keys(ctx).sort()).not.toEqual(expected);
    expect(keysOf(serializeEncryptionContext(ctx))).toEqual(expected);
    // The header encrypt writes stores the pairs in that order.
    const { ciphertext } = await encrypt('x', { keyring, suite: 0x0478, encryptionContext: ctx });
    const contextLength = ciphertext.readUInt16BE(1 + 2 + 32);
    expect(keysOf(ciphertext.subarray(1 + 2 + 32 + 2, 1 + 2 + 32 + 2 + contextLength))).toEqual(
      expected,
    );
  });

  it('The value of this field MUST be greater than 0.', () => {
    expect(parseEncryptionContext(Buffer.alloc(0))).toEqual({});
    expect(serializeEncryptionContext({}).length).toBe(0);
    expect(parseEncryptionContext(Buffer.from([0, 1, 0, 1, 0x61, 0, 0]))).toEqual({ a: '' });
    expect(() => parseEncryptionContext(Buffer.from([0, 0]))).toThrow(MessageFormatError);
    expect(() => parseEncryptionContext(Buffer.from([0, 0, 0, 1, 0x61, 0, 0]))).toThrow(
      MessageFormatError,
    );
    // A header whose context field is a zero count is refused.
    const h = headerBody({
      version: 2,
      suiteId: 0x0478,
      messageId: Buffer.alloc(32),
      context: Buffer.from([0, 0]),
      edks: [{ providerId: 'p', providerInfo: Buffer.alloc(1), encryptedDataKey: Buffer.alloc(1) }],
      contentType: 2,
      frameLength: 64,
      suiteData: Buffer.alloc(32),
    });
    expect(() => parseHeader(Buffer.concat([h, Buffer.alloc(16)]))).toThrow(MessageFormatError);
  });
});
