import { createCipheriv, type Cipher, type KeyObject } from 'node:crypto';
import { fillRandom } from './randomPool.js';

/**
 * AES-256-GCM encryption (NIST SP 800-38D, 96-bit IV, 128-bit tag) from one AES-256-ECB context kept
 * per key and GHASH computed here, byte for byte what `createCipheriv('aes-256-gcm', ...)` produces.
 *
 * Why: node:crypto has no one-shot AEAD, and a fresh GCM cipher costs 8-11 µs per blob on this project's
 * VM (OpenSSL fetches the algorithm and expands the key each time, and the JS `Cipheriv` is a stream).
 * Every GenerateDataKey and Encrypt seals one blob, so that was the largest single item of local-kms's
 * per-request CPU. Here the key stream (E(J0) for the tag, then the counter blocks) comes from a cipher
 * that already exists, and GHASH is a few block multiplications with 4-bit tables. For plaintexts of up
 * to 32 bytes (every data key of AES_128 or AES_256) the IVs are drawn ahead and their key streams
 * computed in batches of up to 64 in one `update()`, so such a seal makes no native call at all.
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
  /** IVs drawn ahead for short plaintexts, 12 bytes each; each is zeroed once used. */
  ivs: Buffer;
  /** Their key streams, {@link SHORT_BLOCKS} blocks each: E(J0), E(inc32(J0)), E(inc32²(J0)). */
  stream: Buffer;
  /** How many of the batch were used. */
  used: number;
}

/** Plaintexts up to this many bytes take a pre-computed key stream (J0 plus two counter blocks). */
const SHORT_PLAINTEXT = 32;
const SHORT_BLOCKS = 3;
/**
 * The largest batch: a key that keeps sealing draws 64 IVs and 192 counter blocks at a time (3.75 KiB
 * held per key). Batches start at 4 and double, so a key sealed once in a while holds little.
 */
const MAX_BATCH = 64;

const KEYS = new WeakMap<KeyObject, GcmKey>();
const EMPTY = Buffer.alloc(0);

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
  k = { ecb, table, ivs: EMPTY, stream: EMPTY, used: 0 };
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

/** Writes the counter blocks J0 = IV || 1, inc32(J0)... for the IV at `iv[ivAt]` into `into[at]`. */
function writeCounters(iv: Buffer, ivAt: number, into: Buffer, at: number, blocks: number): void {
  const iv0 = iv.readInt32BE(ivAt);
  const iv1 = iv.readInt32BE(ivAt + 4);
  const iv2 = iv.readInt32BE(ivAt + 8);
  // A 96-bit IV never carries out of the counter word.
  for (let i = 0; i < blocks; i++) {
    const b = at + i * 16;
    into.writeInt32BE(iv0, b);
    into.writeInt32BE(iv1, b + 4);
    into.writeInt32BE(iv2, b + 8);
    into.writeUInt32BE(i + 1, b + 12);
  }
}

/** Draws the next batch of IVs for short plaintexts and computes their key streams in one call. */
function refill(k: GcmKey): void {
  const n = k.ivs.length === 0 ? 4 : Math.min(MAX_BATCH, (k.ivs.length / 12) * 2);
  const ivs = Buffer.allocUnsafeSlow(n * 12);
  fillRandom(ivs, 0, ivs.length);
  const counters = Buffer.allocUnsafe(n * SHORT_BLOCKS * 16);
  for (let i = 0; i < n; i++)
    writeCounters(ivs, i * 12, counters, i * SHORT_BLOCKS * 16, SHORT_BLOCKS);
  k.stream.fill(0);
  k.ivs = ivs;
  k.stream = k.ecb.update(counters);
  k.used = 0;
}

/**
 * AES-256-GCM-encrypts `plaintext` under `material` with a fresh random 12-byte IV, which it writes
 * at `out[ivAt, ivAt + 12)`, and the additional data `aad[aadStart, aadEnd)`; writes the ciphertext at
 * `out[at]` and the 16-byte tag right after it. `out` may hold the AAD itself, outside the IV, the
 * ciphertext and the tag.
 */
export function gcmSeal(
  material: KeyObject,
  out: Buffer,
  ivAt: number,
  aad: Buffer,
  aadStart: number,
  aadEnd: number,
  plaintext: Buffer,
  at: number,
): void {
  const k = gcmKey(material);
  const n = plaintext.length;
  let stream: Buffer;
  let s: number;
  if (n <= SHORT_PLAINTEXT) {
    if (k.used * 12 === k.ivs.length) refill(k);
    const i = k.used++;
    k.ivs.copy(out, ivAt, i * 12, i * 12 + 12);
    k.ivs.fill(0, i * 12, i * 12 + 12);
    stream = k.stream;
    s = i * SHORT_BLOCKS * 16;
  } else {
    fillRandom(out, ivAt, 12);
    const blocks = 1 + Math.ceil(n / 16);
    const counters = Buffer.allocUnsafe(blocks * 16);
    writeCounters(out, ivAt, counters, 0, blocks);
    stream = k.ecb.update(counters);
    s = 0;
  }
  for (let i = 0; i < n; i++) out[at + i] = plaintext[i]! ^ stream[s + 16 + i]!;
  y0 = y1 = y2 = y3 = 0;
  absorb(k.table, aad, aadStart, aadEnd);
  absorb(k.table, out, at, at + n);
  // The length block: bit lengths of A and C, 64 bits each (both fit in 32 bits here).
  y1 ^= (aadEnd - aadStart) * 8;
  y3 ^= n * 8;
  multiplyH(k.table);
  const t = at + n;
  out.writeInt32BE(y0 ^ stream.readInt32BE(s), t);
  out.writeInt32BE(y1 ^ stream.readInt32BE(s + 4), t + 4);
  out.writeInt32BE(y2 ^ stream.readInt32BE(s + 8), t + 8);
  out.writeInt32BE(y3 ^ stream.readInt32BE(s + 12), t + 12);
  // A used key stream is worth nothing to keep.
  stream.fill(0, s, s + 16 + n);
}
