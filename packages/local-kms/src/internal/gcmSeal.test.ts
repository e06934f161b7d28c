import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { gcmSeal } from './gcmSeal.js';

/** OpenSSL's AES-256-GCM of the same inputs: ciphertext then tag. */
function openssl(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

const keyObjects = new Map<string, KeyObject>();

/**
 * Seals with gcmSeal, the IV in front of the output as sealBlob lays it out, and the same with
 * OpenSSL under the IV gcmSeal drew. One KeyObject per key, as local-kms holds them.
 */
function both(key: Buffer, aad: Buffer, plaintext: Buffer): { ours: Buffer; theirs: Buffer } {
  let material = keyObjects.get(key.toString('hex'));
  if (material === undefined) {
    material = createSecretKey(key);
    keyObjects.set(key.toString('hex'), material);
  }
  const out = Buffer.alloc(12 + plaintext.length + 16);
  gcmSeal(material, out, 0, aad, 0, aad.length, plaintext, 12);
  return { ours: out.subarray(12), theirs: openssl(key, out.subarray(0, 12), aad, plaintext) };
}

describe('gcmSeal', () => {
  it('matches OpenSSL on the GCM specification test case 14 (256-bit zero key, one zero block)', () => {
    const key = Buffer.alloc(32);
    const iv = Buffer.alloc(12);
    expect(openssl(key, iv, Buffer.alloc(0), Buffer.alloc(16)).toString('hex')).toBe(
      'cea7403d4d606b6e074ec5d3baf39d18' + 'd0d1c8a799996bf0265b98b5d48ab919',
    );
    const { ours, theirs } = both(key, Buffer.alloc(0), Buffer.alloc(16));
    expect(ours.equals(theirs)).toBe(true);
  });

  it('draws a fresh IV for every seal, across batches of short plaintexts', () => {
    const material = createSecretKey(Buffer.alloc(32, 9));
    const ivs = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const out = Buffer.alloc(12 + 32 + 16);
      gcmSeal(material, out, 0, Buffer.alloc(0), 0, 0, Buffer.alloc(32), 12);
      ivs.add(out.toString('hex', 0, 12));
    }
    expect(ivs.size).toBe(300);
  });

  it('produces exactly what OpenSSL produces, for any key, IV, AAD and plaintext (property)', () => {
    fc.assert(
      fc.property(
        // A few keys, so that seals of one key run through several batches of pre-drawn IVs.
        fc.constantFrom(...[1, 2, 3].map((b) => Buffer.alloc(32, b))),
        fc.uint8Array({ maxLength: 100 }),
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 33 }),
          fc.uint8Array({ minLength: 1, maxLength: 1100 }),
        ),
        (k, aad, plaintext) => {
          const a = Buffer.from(aad);
          const p = Buffer.from(plaintext);
          const { ours, theirs } = both(k, a, p);
          expect(ours.equals(theirs)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps each key apart when seals of several keys interleave', () => {
    const keys = [4, 5, 6].map((b) => Buffer.alloc(32, b));
    const aad = Buffer.from('header');
    for (let round = 0; round < 200; round++) {
      for (const key of keys) {
        const { ours, theirs } = both(key, aad, Buffer.alloc(1 + (round % 40), round));
        expect(ours.equals(theirs)).toBe(true);
      }
    }
  });
});
