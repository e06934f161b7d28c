import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getSuite } from '../suites.js';
import { DecryptionError } from '../errors.js';
import { BodyAadContent, serializeBodyAad } from '../format/body.js';
import { BodyCipher } from './BodyCipher.js';
import { FrameCipher } from './FrameCipher.js';

const suite = getSuite(0x0478);
if (!suite) throw new Error('no suite 0x0478');
const CASES = [
  [0, 1],
  [100, 7],
  [4096, 0xfffffffe],
] as const;

describe('BodyCipher', () => {
  it.each([0, 1] as const)(
    'frame kind %i: writes exactly what FrameCipher writes, and opens it',
    (kind) => {
      const key = randomBytes(32);
      const messageId = randomBytes(32);
      const body = new BodyCipher(suite, key, messageId);
      const frames = new FrameCipher(suite, key, messageId);
      for (const [n, seq] of CASES) {
        const pt = randomBytes(n);
        const a = Buffer.alloc(n + 16);
        const b = Buffer.alloc(n + 16);
        body.encryptInto(kind, seq, pt, a, 0);
        frames.encryptInto(kind, seq, pt, b, 0);
        expect(a.equals(b)).toBe(true);
        const iv = Buffer.from(body.iv(seq));
        expect(body.decrypt(kind, seq, iv, a.subarray(0, n), a.subarray(n)).equals(pt)).toBe(true);
        a[n] = (a[n] as number) ^ 1;
        expect(() => body.decrypt(kind, seq, iv, a.subarray(0, n), a.subarray(n))).toThrow(
          DecryptionError,
        );
      }
    },
  );

  it('opens a non-framed body sealed with the single-block body AAD of format/body.ts', () => {
    const key = randomBytes(32);
    const messageId = randomBytes(32);
    const body = new BodyCipher(suite, key, messageId);
    for (const [n] of CASES) {
      const pt = randomBytes(n);
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(serializeBodyAad(messageId, BodyAadContent.SINGLE_BLOCK, 1, n));
      const ct = Buffer.concat([c.update(pt), c.final()]);
      expect(body.decrypt(2, 1, iv, ct, c.getAuthTag()).equals(pt)).toBe(true);
      expect(() => body.decrypt(2, 1, iv, ct, randomBytes(16))).toThrow(DecryptionError);
    }
  });
});
