import { randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getSuite } from '../suites.js';
import { DecryptionError } from '../errors.js';
import { VERIFICATION_KEY_CACHE_SIZE, generateSigningKey, verificationKey } from './signature.js';

const suite = getSuite(0x0578);
if (!suite) throw new Error('no suite 0x0578');

/** A fresh P-384 key pair: the stored (compressed, base64) public key, and a signature it must verify. */
function signed(): { publicKey: string; data: Buffer; signature: Buffer } {
  const { privateKey, publicKey } = generateSigningKey(suite as NonNullable<typeof suite>);
  const data = randomBytes(64);
  return { publicKey, data, signature: sign('sha384', data, privateKey) };
}

describe('verificationKey', () => {
  it('imports the stored point as a key that verifies the matching signature and no other', async () => {
    const a = signed();
    const b = signed();
    const key = await verificationKey(suite, a.publicKey);
    expect(verify('sha384', a.data, key, a.signature)).toBe(true);
    expect(verify('sha384', b.data, key, b.signature)).toBe(false);
  });

  it('imports a point once and hands the same key to every message that stores it', async () => {
    const a = signed();
    const first = await verificationKey(suite, a.publicKey);
    expect(await verificationKey(suite, a.publicKey)).toBe(first);
  });

  it(`keeps the ${VERIFICATION_KEY_CACHE_SIZE} most recently used keys and imports the oldest again`, async () => {
    const kept = signed();
    const dropped = signed();
    const keptKey = await verificationKey(suite, kept.publicKey);
    const droppedKey = await verificationKey(suite, dropped.publicKey);
    for (let i = 0; i < VERIFICATION_KEY_CACHE_SIZE - 2; i++) {
      await verificationKey(suite, signed().publicKey);
    }
    // `kept` is used again, so `dropped` is now the least recently used; one more key pushes it out.
    expect(await verificationKey(suite, kept.publicKey)).toBe(keptKey);
    await verificationKey(suite, signed().publicKey);
    expect(await verificationKey(suite, kept.publicKey)).toBe(keptKey);
    const again = await verificationKey(suite, dropped.publicKey);
    expect(again).not.toBe(droppedKey);
    expect(verify('sha384', dropped.data, again, dropped.signature)).toBe(true);
  });

  it('refuses a point that is not on the curve, every time (a bad point is never kept)', async () => {
    const bad = Buffer.alloc(49, 0xff);
    bad[0] = 0x02;
    for (let i = 0; i < 2; i++) {
      await expect(verificationKey(suite, bad.toString('base64'))).rejects.toBeInstanceOf(
        DecryptionError,
      );
    }
  });
});
