import { formatError } from '../errors.js';

/** Encryption context: non-secret key-value pairs bound to the message as authenticated data. */
export type EncryptionContext = Readonly<Record<string, string>>;

const EMPTY = Buffer.alloc(0);

/** Pairs sorted by the UTF-8 bytes of their keys, as the serialisation requires. */
function sortedPairs(context: EncryptionContext): Array<[Buffer, Buffer]> {
  const pairs: Array<[Buffer, Buffer]> = [];
  for (const k of Object.keys(context)) {
    pairs.push([Buffer.from(k, 'utf8'), Buffer.from(context[k] as string, 'utf8')]);
  }
  //= aws-encryption-sdk-specification/framework/structures.md#key-value-pair-entries
  //# These entries MUST be sorted, by key, in ascending order according to the UTF-8 encoded binary
  //# value.
  if (pairs.length > 1) pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  return pairs;
}

/**
 * Serialises an encryption context: a 2-byte pair count, then for each pair (sorted by UTF-8 key bytes)
 * a 2-byte key length, the key, a 2-byte value length and the value. An empty context serialises to zero
 * bytes (not to a zero count), as the header and the raw AES keyring expect.
 */
export function serializeEncryptionContext(context: EncryptionContext): Buffer {
  const pairs = sortedPairs(context);
  if (pairs.length === 0) return EMPTY;
  if (pairs.length > 0xffff) throw formatError('encryption context has more than 65,535 pairs');
  let size = 2;
  for (const [k, v] of pairs) {
    if (k.length > 0xffff || v.length > 0xffff) {
      throw formatError('an encryption context key or value is longer than 65,535 bytes');
    }
    size += 4 + k.length + v.length;
  }
  if (size > 0xffff) throw formatError('serialized encryption context is longer than 65,535 bytes');
  const out = Buffer.allocUnsafe(size);
  let o = out.writeUInt16BE(pairs.length, 0);
  for (const [k, v] of pairs) {
    o = out.writeUInt16BE(k.length, o);
    o += k.copy(out, o);
    o = out.writeUInt16BE(v.length, o);
    o += v.copy(out, o);
  }
  return out;
}

/**
 * Parses serialised key-value pairs (count then pairs). Zero bytes is the empty context. Refuses a zero
 * count, duplicate keys, invalid UTF-8 and trailing bytes.
 */
export function parseEncryptionContext(bytes: Uint8Array): Record<string, string> {
  return parseEncryptionContextBytes(bytes).context;
}

/**
 * {@link parseEncryptionContext}, also telling whether `bytes` are exactly what
 * {@link serializeEncryptionContext} writes for the result (keys in strictly ascending UTF-8 byte order):
 * a decrypt can then use the header's bytes wherever the specification asks for the serialised context,
 * instead of serialising it again.
 * @internal
 */
export function parseEncryptionContextBytes(bytes: Uint8Array): {
  context: Record<string, string>;
  canonical: boolean;
} {
  if (bytes.length === 0) return { context: {}, canonical: true };
  // Pairs collected first and turned into an object once: Object.fromEntries defines own data
  // properties (a key named "__proto__" stays an ordinary key) without the dictionary-mode object and
  // copy a null-prototype accumulator costs on every message.
  const pairs: [string, string][] = [];
  let seen: Set<string> | undefined;
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 2) throw formatError('encryption context: truncated pair count');
  const count = buf.readUInt16BE(0);
  //= aws-encryption-sdk-specification/framework/structures.md#key-value-pair-count
  //# The value of this field MUST be greater than 0.
  if (count === 0) throw formatError('encryption context: zero pair count in a non-empty field');
  let canonical = true;
  let prevStart = 0;
  let prevEnd = 0;
  let o = 2;
  for (let i = 0; i < count; i++) {
    if (o + 2 > buf.length) throw formatError('encryption context: truncated key length');
    const kl = buf.readUInt16BE(o);
    o += 2;
    if (o + kl + 2 > buf.length) throw formatError('encryption context: truncated key');
    const key = decodeUtf8(buf, o, o + kl, 'key');
    // Strictly ascending keys (compared in place, no slices) mean the bytes are the canonical form.
    if (i > 0 && canonical && buf.compare(buf, prevStart, prevEnd, o, o + kl) !== 1)
      canonical = false;
    prevStart = o;
    prevEnd = o + kl;
    o += kl;
    const vl = buf.readUInt16BE(o);
    o += 2;
    if (o + vl > buf.length) throw formatError('encryption context: truncated value');
    const value = decodeUtf8(buf, o, o + vl, 'value');
    o += vl;
    // A linear scan for the few pairs a context usually has; a Set past that, so a hostile count of
    // 65,535 pairs stays linear.
    let duplicate = false;
    if (seen !== undefined) duplicate = seen.has(key);
    else for (const p of pairs) if (p[0] === key) duplicate = true;
    if (duplicate) throw formatError('encryption context: duplicate key');
    pairs.push([key, value]);
    if (seen !== undefined) seen.add(key);
    else if (pairs.length === 16) seen = new Set(pairs.map((p) => p[0]));
  }
  if (o !== buf.length) throw formatError('encryption context: bytes after the last pair');
  return { context: Object.fromEntries(pairs), canonical };
}

// ignoreBOM: keep a leading U+FEFF as a character. By default TextDecoder drops it, which changed such a
// key or value (the ESDKs keep it), so the context no longer matched what the message was written with.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function decodeUtf8(buf: Buffer, start: number, end: number, what: string): string {
  // Fast path: pure ASCII (the common case) needs no validation.
  let ascii = true;
  for (let i = start; i < end; i++) {
    if ((buf[i] as number) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return buf.toString('latin1', start, end);
  try {
    return decoder.decode(buf.subarray(start, end));
  } catch {
    throw formatError(`encryption context: ${what} is not valid UTF-8`);
  }
}

/** Reserved prefix: keys the SDK itself writes (the signing public key). */
export const RESERVED_CONTEXT_PREFIX = 'aws-crypto-';
/** Key under which signed suites store the compressed, base64 public verification key. */
export const PUBLIC_KEY_CONTEXT_KEY = 'aws-crypto-public-key';
