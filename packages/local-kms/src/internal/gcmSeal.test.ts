import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCipheriv, createSecretKey } from 'node:crypto';
import { gcmSealInto } from './gcmSeal.js';

/** OpenSSL's AES-256-GCM of the same inputs: ciphertext then tag. */
function openssl(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** Seals with gcmSealInto, the IV in front of the output as sealBlob lays it out. */
function seal(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const out = Buffer.alloc(12 + plaintext.length + 16);
  iv.copy(out, 0);
  gcmSealInto(createSecretKey(key), out, 0, aad, 0, aad.length, plaintext, 12);
  return out.subarray(12);
}

describe('gcmSealInto', () => {
  it('matches the GCM specification test case 14 (256-bit zero key, zero IV, one zero block)', () => {
    const out = seal(Buffer.alloc(32), Buffer.alloc(12), Buffer.alloc(0), Buffer.alloc(16));
    expect(out.toString('hex')).toBe(
      'cea7403d4d606b6e074ec5d3baf39d18' + 'd0d1c8a799996bf0265b98b5d48ab919',
    );
  });

  it('produces exactly what OpenSSL produces, for any key, IV, AAD and plaintext (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ minLength: 1, maxLength: 1100 }),
        (key, iv, aad, plaintext) => {
          const [k, i, a, p] = [key, iv, aad, plaintext].map((x) => Buffer.from(x)) as [
            Buffer,
            Buffer,
            Buffer,
            Buffer,
          ];
          expect(seal(k, i, a, p).equals(openssl(k, i, a, p))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps each key apart when seals of several keys interleave', () => {
    const keys = [1, 2, 3].map((b) => Buffer.alloc(32, b));
    const iv = Buffer.alloc(12, 7);
    const aad = Buffer.from('header');
    for (let round = 0; round < 3; round++) {
      for (const key of keys) {
        const plaintext = Buffer.alloc(32 + round * 17, round);
        expect(seal(key, iv, aad, plaintext).equals(openssl(key, iv, aad, plaintext))).toBe(true);
      }
    }
  });
});
