import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getSuite } from '../suites.js';
import { DecryptionError } from '../errors.js';
import { BodyAadContent, serializeBodyAad } from '../format/body.js';
import { FrameCipher } from './FrameCipher.js';

const suite = getSuite(0x0478);
if (!suite) throw new Error('no suite 0x0478');
const CASES = [
  [0, 1],
  [100, 7],
  [4096, 0xfffffffe],
] as const;

/** The frame IV of the format: the sequence number, big-endian, right-aligned in 12 zero bytes. */
function frameIv(seq: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(seq, 8);
  return iv;
}

describe('FrameCipher', () => {
  it.each([
    [0, BodyAadContent.FRAME],
    [1, BodyAadContent.FINAL_FRAME],
  ] as const)(
    'frame kind %i: seals exactly what AES-GCM over the format/body.ts AAD gives, and opens it',
    (kind, content) => {
      const key = randomBytes(32);
      const messageId = randomBytes(32);
      const frames = new FrameCipher(suite, key, messageId);
      for (const [n, seq] of CASES) {
        const pt = randomBytes(n);
        const a = Buffer.alloc(n + 16);
        frames.encryptInto(kind, seq, pt, a, 0);
        const c = createCipheriv('aes-256-gcm', key, frameIv(seq));
        c.setAAD(serializeBodyAad(messageId, content, seq, n));
        expect(a.equals(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]))).toBe(true);
        const iv = Buffer.from(frames.iv(seq));
        expect(iv.equals(frameIv(seq))).toBe(true);
        expect(frames.decrypt(kind, seq, iv, a.subarray(0, n), a.subarray(n)).equals(pt)).toBe(
          true,
        );
        a[n] = (a[n] as number) ^ 1;
        expect(() => frames.decrypt(kind, seq, iv, a.subarray(0, n), a.subarray(n))).toThrow(
          DecryptionError,
        );
      }
    },
  );

  it('opens a non-framed body sealed with the single-block body AAD of format/body.ts', () => {
    const key = randomBytes(32);
    const messageId = randomBytes(32);
    const frames = new FrameCipher(suite, key, messageId);
    for (const [n] of CASES) {
      const pt = randomBytes(n);
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(serializeBodyAad(messageId, BodyAadContent.SINGLE_BLOCK, 1, n));
      const ct = Buffer.concat([c.update(pt), c.final()]);
      expect(frames.decrypt(2, 1, iv, ct, c.getAuthTag()).equals(pt)).toBe(true);
      expect(() => frames.decrypt(2, 1, iv, ct, randomBytes(16))).toThrow(DecryptionError);
    }
  });

  it('gives the streams a regular-frame AAD of message ID and content, and copies for workers', () => {
    const key = randomBytes(32);
    const messageId = randomBytes(32);
    const frames = new FrameCipher(suite, key, messageId);
    const local = frames.batchState(4096);
    expect(local.aad.subarray(0, 32 + BodyAadContent.FRAME.length)).toEqual(
      Buffer.concat([messageId, BodyAadContent.FRAME]),
    );
    expect(local.aad).toHaveLength(32 + BodyAadContent.FRAME.length + 12);
    expect(local.key).toBe(key);
    const copy = frames.batchState(4096, true);
    expect(copy.key).not.toBe(key);
    expect(copy.key.equals(key)).toBe(true);
  });
});
