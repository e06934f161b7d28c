import { createCipheriv, type Cipher, type KeyObject } from 'node:crypto';

/**
 * AES-256-GCM encryption (NIST SP 800-38D, 96-bit IV, 128-bit tag) from one AES-256-ECB context kept
 * per key and GHASH computed here, byte for byte what `createCipheriv('aes-256-gcm', ...)` produces.
 *
 * Why: node:crypto has no one-shot AEAD, and a fresh GCM cipher costs 8-11 µs per blob on this project's
 * VM (OpenSSL fetches the algorithm and expands the key each time, and the JS `Cipheriv` is a stream).
 * Every GenerateDataKey and Encrypt seals one blob, so that was the largest single item of local-kms's
 * per-request CPU. Here a blob costs one `update()` on a cipher that already exists (the key stream:
 * E(J0) for the tag, then the counter blocks) and a few GHASH block multiplications with 4-bit tables.
 *
 * Trade-off: the GHASH tables are indexed by data, so unlike OpenSSL's carry-less-multiply code this is
 * not constant-time with respect to the hash key H. local-kms is a test server for local use whose key
 * material never leaves the process; it does not defend against a co-located cache-timing observer.
 * Decryption stays on OpenSSL (`createDecipheriv`), which also checks every tag sealed here.
 */

/** One key's state: its ECB context (never finalised) and the GHASH table for H = E(K, 0^128). */
interface GcmKey {
  readonly ecb: Cipher;
  /** M[i] = i·H for the 16 nibble values i, as four big-endian 32-bit words each (64 words). */
  readonly table: Int32Array;
}

const KEYS = new WeakMap<KeyObject, GcmKey>();

/** The reduction constants of the 4-bit GHASH method (Shoup), already in the top word's position. */
const LAST4 = Int32Array.from(
  [
    0x0000, 0x1c20, 0x3840, 0x2460, 0x7080, 0x6ca0, 0x48c0, 0x54e0, 0xe100, 0xfd20, 0xd940, 0xc560,
    0x9180, 0x8da0, 0xa9c0, 0xb5e0,
  ],
  (v) => v << 16,
);

function gcmKey(material: KeyObject): GcmKey {
  let k = KEYS.get(material);
  if (k !== undefined) return k;
  const ecb = createCipheriv('aes-256-ecb', material, null);
  ecb.setAutoPadding(false);
  const h = ecb.update(Buffer.alloc(16));
  const table = new Int32Array(64);
  let v0 = h.readInt32BE(0);
  let v1 = h.readInt32BE(4);
  let v2 = h.readInt32BE(8);
  let v3 = h.readInt32BE(12);
  table.set([v0, v1, v2, v3], 32);
  // M[4], M[2], M[1]: H times x, x^2, x^3 in GCM's reflected bit order.
  for (let i = 4; i > 0; i >>= 1) {
    const t = (v3 & 1) === 0 ? 0 : 0xe1000000 | 0;
    v3 = (v3 >>> 1) | (v2 << 31);
    v2 = (v2 >>> 1) | (v1 << 31);
    v1 = (v1 >>> 1) | (v0 << 31);
    v0 = (v0 >>> 1) ^ t;
    table.set([v0, v1, v2, v3], i * 4);
  }
  // The rest by linearity: M[i + j] = M[i] ^ M[j].
  for (let i = 2; i <= 8; i *= 2) {
    for (let j = 1; j < i; j++) {
      for (let w = 0; w < 4; w++) table[(i + j) * 4 + w] = table[i * 4 + w]! ^ table[j * 4 + w]!;
    }
  }
  k = { ecb, table };
  KEYS.set(material, k);
  return k;
}

/** The GHASH accumulator Y of the seal in progress, as four big-endian 32-bit words. */
let y0 = 0;
let y1 = 0;
let y2 = 0;
let y3 = 0;

/** Y = Y · H in GF(2^128), with `m` the table of H. */
function multiplyH(m: Int32Array): void {
  let z0 = 0;
  let z1 = 0;
  let z2 = 0;
  let z3 = 0;
  for (let i = 15; i >= 0; i--) {
    const word = i < 8 ? (i < 4 ? y0 : y1) : i < 12 ? y2 : y3;
    const b = (word >>> ((3 - (i & 3)) << 3)) & 0xff;
    const lo = (b & 0xf) << 2;
    const hi = (b >>> 4) << 2;
    if (i === 15) {
      z0 = m[lo]!;
      z1 = m[lo + 1]!;
      z2 = m[lo + 2]!;
      z3 = m[lo + 3]!;
    } else {
      const rem = z3 & 0xf;
      z3 = (z3 >>> 4) | (z2 << 28);
      z2 = (z2 >>> 4) | (z1 << 28);
      z1 = (z1 >>> 4) | (z0 << 28);
      z0 = (z0 >>> 4) ^ LAST4[rem]! ^ m[lo]!;
      z1 ^= m[lo + 1]!;
      z2 ^= m[lo + 2]!;
      z3 ^= m[lo + 3]!;
    }
    const rem = z3 & 0xf;
    z3 = (z3 >>> 4) | (z2 << 28);
    z2 = (z2 >>> 4) | (z1 << 28);
    z1 = (z1 >>> 4) | (z0 << 28);
    z0 = (z0 >>> 4) ^ LAST4[rem]! ^ m[hi]!;
    z1 ^= m[hi + 1]!;
    z2 ^= m[hi + 2]!;
    z3 ^= m[hi + 3]!;
  }
  y0 = z0;
  y1 = z1;
  y2 = z2;
  y3 = z3;
}

/** Big-endian word of `b` at `at` whose bytes from `end` on are taken as zero (a padded last block). */
function partialWord(b: Buffer, at: number, end: number): number {
  let w = 0;
  for (let k = 0; k < 4; k++) w = (w << 8) | (at + k < end ? b[at + k]! : 0);
  return w;
}

/** Absorbs `b[start, end)` into Y, the last block zero-padded (GHASH pads each of A and C). */
function absorb(m: Int32Array, b: Buffer, start: number, end: number): void {
  let at = start;
  for (; at + 16 <= end; at += 16) {
    y0 ^= b.readInt32BE(at);
    y1 ^= b.readInt32BE(at + 4);
    y2 ^= b.readInt32BE(at + 8);
    y3 ^= b.readInt32BE(at + 12);
    multiplyH(m);
  }
  if (at < end) {
    y0 ^= partialWord(b, at, end);
    y1 ^= partialWord(b, at + 4, end);
    y2 ^= partialWord(b, at + 8, end);
    y3 ^= partialWord(b, at + 12, end);
    multiplyH(m);
  }
}

/**
 * Counter-block buffers by block count (J0 plus one per 16 bytes of plaintext), reused so a seal
 * allocates no view for them; up to 1 KiB of plaintext (a data key of any size KMS allows).
 */
const COUNTERS: Buffer[] = [];
const MAX_CACHED_BLOCKS = 65;

/**
 * AES-256-GCM-encrypts `plaintext` under `material` with the 12-byte IV at `out[ivAt, ivAt + 12)` and
 * the additional data `aad[aadStart, aadEnd)`; writes the ciphertext at `out[at]` and the 16-byte tag
 * right after it. `out` may hold the AAD itself (it is read before anything is written).
 */
export function gcmSealInto(
  material: KeyObject,
  out: Buffer,
  ivAt: number,
  aad: Buffer,
  aadStart: number,
  aadEnd: number,
  plaintext: Buffer,
  at: number,
): void {
  const { ecb, table } = gcmKey(material);
  const n = plaintext.length;
  const blocks = 1 + Math.ceil(n / 16);
  let counters = COUNTERS[blocks];
  if (counters === undefined) {
    counters = Buffer.alloc(blocks * 16);
    if (blocks <= MAX_CACHED_BLOCKS) COUNTERS[blocks] = counters;
  }
  // J0 = IV || 1, then inc32(J0), inc32^2(J0)... (a 96-bit IV never carries out of the counter word).
  const iv0 = out.readInt32BE(ivAt);
  const iv1 = out.readInt32BE(ivAt + 4);
  const iv2 = out.readInt32BE(ivAt + 8);
  for (let i = 0; i < blocks; i++) {
    counters.writeInt32BE(iv0, i * 16);
    counters.writeInt32BE(iv1, i * 16 + 4);
    counters.writeInt32BE(iv2, i * 16 + 8);
    counters.writeUInt32BE(i + 1, i * 16 + 12);
  }
  const stream = ecb.update(counters);
  for (let i = 0; i < n; i++) out[at + i] = plaintext[i]! ^ stream[16 + i]!;
  y0 = y1 = y2 = y3 = 0;
  absorb(table, aad, aadStart, aadEnd);
  absorb(table, out, at, at + n);
  // The length block: bit lengths of A and C, 64 bits each (both fit in 32 bits here).
  y1 ^= (aadEnd - aadStart) * 8;
  y3 ^= n * 8;
  multiplyH(table);
  const t = at + n;
  out.writeInt32BE(y0 ^ stream.readInt32BE(0), t);
  out.writeInt32BE(y1 ^ stream.readInt32BE(4), t + 4);
  out.writeInt32BE(y2 ^ stream.readInt32BE(8), t + 8);
  out.writeInt32BE(y3 ^ stream.readInt32BE(12), t + 12);
  stream.fill(0);
}
