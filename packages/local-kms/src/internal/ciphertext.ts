import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { fillRandom } from './randomPool.js';

/**
 * The ciphertext blob local-kms hands out for symmetric keys.
 *
 * ```
 * offset  size  field
 * 0       2     magic 0x4c, then 0x01 for a UUID key id or 0x02 for a multi-Region `mrk-` key id
 * 2       16    key id (the UUID's 16 bytes, or the 32 hex digits after `mrk-`)
 * 18      4     material version, unsigned big-endian (0 = original material, +1 per rotation)
 * 22      12    AES-GCM IV, random
 * 34      n     AES-256-GCM ciphertext of the plaintext
 * 34+n    16    AES-GCM tag
 * ```
 *
 * The additional authenticated data is bytes 0..22 (so the key id and material version cannot be
 * swapped) followed by the canonical encoding of the encryption context: entries sorted by key, each as
 * a two-byte length and the UTF-8 key, then a two-byte length and the UTF-8 value. Any changed byte, a
 * different context, or a different key fails the tag check.
 */
export const HEADER_LENGTH = 22;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** The shortest blob that can hold one byte of plaintext. */
export const MIN_BLOB_LENGTH = HEADER_LENGTH + IV_LENGTH + 1 + TAG_LENGTH;
const MAGIC0 = 0x4c;
const MAGIC_UUID = 0x01;
const MAGIC_MRK = 0x02;

/** An encryption context: string keys to string values. */
export type EncryptionContext = Readonly<Record<string, string>>;

/** Canonical bytes of an encryption context, or `undefined` when it is empty. */
export function encodeContext(context: EncryptionContext | undefined): Buffer | undefined {
  if (context === undefined) return undefined;
  const keys = Object.keys(context);
  if (keys.length === 0) return undefined;
  keys.sort();
  const parts: Buffer[] = [];
  for (const k of keys) {
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(context[k] ?? '', 'utf8');
    const len = Buffer.allocUnsafe(4);
    len.writeUInt16BE(kb.length & 0xffff, 0);
    len.writeUInt16BE(vb.length & 0xffff, 2);
    parts.push(len.subarray(0, 2), kb, len.subarray(2, 4), vb);
  }
  return Buffer.concat(parts);
}

/** Writes the 16 bytes of a key id (UUID or `mrk-` + 32 hex digits); returns the magic byte for it. */
export function keyIdToBytes(keyId: string, into: Buffer, offset: number): number {
  if (keyId.startsWith('mrk-')) {
    into.write(keyId.slice(4), offset, 16, 'hex');
    return MAGIC_MRK;
  }
  into.write(keyId.replace(/-/g, ''), offset, 16, 'hex');
  return MAGIC_UUID;
}

function bytesToUuid(blob: Buffer, offset: number): string {
  const h = blob.toString('hex', offset, offset + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The first 18 header bytes (magic and key id) per key id, so a seal copies them instead of parsing
 * the id's hex each time. Bounded: ids beyond the first 4,096 are encoded on every seal.
 */
const ID_HEADERS = new Map<string, Buffer>();

function idHeader(keyId: string): Buffer {
  let h = ID_HEADERS.get(keyId);
  if (h === undefined) {
    h = Buffer.alloc(18);
    h[0] = MAGIC0;
    h[1] = keyIdToBytes(keyId, h, 2);
    if (ID_HEADERS.size < 4096) ID_HEADERS.set(keyId, h);
  }
  return h;
}

/** Encrypts `plaintext` under one version of a key's material. */
export function sealBlob(
  material: KeyObject,
  keyId: string,
  version: number,
  plaintext: Buffer,
  context: EncryptionContext | undefined,
): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + IV_LENGTH + plaintext.length + TAG_LENGTH);
  out.set(idHeader(keyId), 0);
  out.writeUInt32BE(version, 18);
  fillRandom(out, HEADER_LENGTH, IV_LENGTH);
  // One OpenSSL GCM context per blob: node:crypto has no one-shot AEAD, and AES-GCM is not ours to build
  // from parts (a JavaScript GHASH is neither vetted nor constant-time). It costs 4-11 µs of the request.
  const cipher = createCipheriv('aes-256-gcm', material, out.subarray(HEADER_LENGTH, 34));
  const ctx = encodeContext(context);
  cipher.setAAD(
    ctx === undefined
      ? out.subarray(0, HEADER_LENGTH)
      : Buffer.concat([out.subarray(0, HEADER_LENGTH), ctx]),
  );
  cipher.update(plaintext).copy(out, 34);
  cipher.final();
  cipher.getAuthTag().copy(out, 34 + plaintext.length);
  return out;
}

/** The key id and material version a blob names, or `undefined` when it is not a local-kms blob. */
export function readBlobHeader(
  blob: Buffer,
): { readonly keyId: string; readonly version: number } | undefined {
  if (blob.length < MIN_BLOB_LENGTH || blob[0] !== MAGIC0) return undefined;
  const keyId =
    blob[1] === MAGIC_UUID
      ? bytesToUuid(blob, 2)
      : blob[1] === MAGIC_MRK
        ? `mrk-${blob.toString('hex', 2, 18)}`
        : undefined;
  if (keyId === undefined) return undefined;
  return { keyId, version: blob.readUInt32BE(18) };
}

/** Decrypts a blob whose header was read with `readBlobHeader`; `undefined` when the tag fails. */
export function openBlob(
  material: KeyObject,
  blob: Buffer,
  context: EncryptionContext | undefined,
): Buffer | undefined {
  const end = blob.length - TAG_LENGTH;
  try {
    const decipher = createDecipheriv('aes-256-gcm', material, blob.subarray(HEADER_LENGTH, 34));
    const ctx = encodeContext(context);
    decipher.setAAD(
      ctx === undefined
        ? blob.subarray(0, HEADER_LENGTH)
        : Buffer.concat([blob.subarray(0, HEADER_LENGTH), ctx]),
    );
    decipher.setAuthTag(blob.subarray(end));
    const head = decipher.update(blob.subarray(34, end));
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    return undefined;
  }
}
