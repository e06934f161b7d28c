import { createHash } from 'node:crypto';

/**
 * Cache keys are SHA-256 digests (base64, 44 characters) of an unambiguous encoding of their parts, so two
 * different requests can never share a key by accident of concatenation, and a cache holds no encryption
 * context or ciphertext in its keys however large those are.
 *
 * The encoding: a one-byte domain tag, then each part in a fixed order. A string is its UTF-16 code units
 * (which, unlike UTF-8, maps every JavaScript string — lone surrogates included — to distinct bytes) behind
 * a 4-byte big-endian length; bytes likewise; an optional part is a presence byte (0 or 1) before it; an
 * encryption context is its pair count, then its pairs sorted by key (code-unit order, a total order on the
 * distinct keys of one object).
 */

/**
 * Writes the encoding into one scratch buffer, so a key costs one hash update instead of one per field
 * (each a native call) and no buffer per string. An encoding borrows the spare buffer (or makes its own
 * when it is lent out), which grows to the largest key seen and is cleared and handed back at the digest.
 */
class Encoding {
  static #spare: Buffer | undefined = Buffer.allocUnsafe(1024);
  #buf: Buffer;
  #off = 0;

  constructor() {
    this.#buf = Encoding.#spare ?? Buffer.allocUnsafe(1024);
    Encoding.#spare = undefined;
  }

  #room(n: number): Buffer {
    const need = this.#off + n;
    if (need > this.#buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.#buf.length * 2));
      this.#buf.copy(bigger, 0, 0, this.#off);
      this.#buf.fill(0);
      this.#buf = bigger;
    }
    return this.#buf;
  }

  byte(b: number): void {
    this.#room(1)[this.#off++] = b;
  }

  u32(n: number): void {
    this.#room(4).writeUInt32BE(n >>> 0, this.#off);
    this.#off += 4;
  }

  bytes(bytes: Uint8Array): void {
    this.u32(bytes.byteLength);
    this.#room(bytes.byteLength).set(bytes, this.#off);
    this.#off += bytes.byteLength;
  }

  /** UTF-16 code units, each two bytes little-endian (lone surrogates included). */
  string(s: string): void {
    this.u32(s.length * 2);
    this.#off += this.#room(s.length * 2).write(s, this.#off, 'utf16le');
  }

  optionalString(s: string | undefined): void {
    if (s === undefined) this.byte(0);
    else {
      this.byte(1);
      this.string(s);
    }
  }

  /** Absent and empty contexts are the same to KMS, so they encode the same. */
  context(context: Readonly<Record<string, string>> | undefined): void {
    const keys = context === undefined ? [] : Object.keys(context).sort();
    this.u32(keys.length);
    for (const k of keys) {
      this.string(k);
      this.string(String(context![k]));
    }
  }

  optionalList(list: readonly string[] | undefined): void {
    if (list === undefined) return this.byte(0);
    this.byte(1);
    this.u32(list.length);
    for (const s of list) this.string(s);
  }

  /** SHA-256 of everything written, base64; clears the scratch bytes and hands the buffer back. */
  digest(): string {
    const buf = this.#buf;
    const id = createHash('sha256').update(buf.subarray(0, this.#off)).digest('base64');
    buf.fill(0, 0, this.#off);
    this.#off = 0;
    Encoding.#spare = buf;
    return id;
  }
}

/** A new encoding that starts with its one-byte domain tag. */
function encoding(tag: string): Encoding {
  const e = new Encoding();
  e.byte(tag.charCodeAt(0));
  return e;
}

/** Identifies one data-key cache entry. Every part is compared exactly; see {@link dataKeyCacheId}. */
export interface DataKeyCacheKey {
  /** The KMS key (id, ARN or alias) that protects the data key. */
  readonly keyId: string;
  /** The encryption context the data key is bound to. Absent and `{}` are the same entry. */
  readonly encryptionContext?: Readonly<Record<string, string>> | undefined;
  /**
   * What kind of data key: a `KeySpec` such as `AES_256`, a `NumberOfBytes`, or any label the caller uses
   * to keep incompatible keys apart (an ESDK algorithm suite id, say). The string `'32'` and the number
   * `32` are different keys.
   */
  readonly keySpec?: string | number | undefined;
  /**
   * Keeps callers that must not share keys apart, like the ESDK caching materials manager's `partition`.
   * Strings and byte arrays are distinct namespaces.
   */
  readonly partition?: string | Uint8Array | undefined;
  /**
   * Further parts that tell entries apart, in order: for decryption materials, say, the algorithm suite
   * and each encrypted data key of the message. Absent and `[]` are the same entry.
   */
  readonly parts?: readonly (string | Uint8Array)[] | undefined;
}

/**
 * The cache id of a data-key cache entry: a SHA-256 digest (base64) of the unambiguous encoding of every
 * part of `key`. Exported so a caller can log or compare ids without ever holding the parts.
 */
export function dataKeyCacheId(key: DataKeyCacheKey): string {
  const e = encoding('K');
  e.string(key.keyId);
  e.context(key.encryptionContext);
  const spec = key.keySpec;
  if (spec === undefined) e.byte(0);
  else if (typeof spec === 'number') {
    e.byte(1);
    e.string(String(spec));
  } else {
    e.byte(2);
    e.string(spec);
  }
  const p = key.partition;
  if (p === undefined) e.byte(0);
  else if (typeof p === 'string') {
    e.byte(1);
    e.string(p);
  } else {
    e.byte(2);
    e.bytes(p);
  }
  const parts = key.parts ?? [];
  e.u32(parts.length);
  for (const part of parts) {
    if (typeof part === 'string') {
      e.byte(1);
      e.string(part);
    } else {
      e.byte(2);
      e.bytes(part);
    }
  }
  return e.digest();
}

/** The Decrypt request fields that decide its answer. Shaped like the SDK's `DecryptCommandInput`. */
export interface DecryptKeyInput {
  readonly CiphertextBlob?: Uint8Array | undefined;
  readonly EncryptionContext?: Readonly<Record<string, string>> | undefined;
  readonly KeyId?: string | undefined;
  readonly EncryptionAlgorithm?: string | undefined;
  readonly GrantTokens?: readonly string[] | undefined;
}

/**
 * The Decrypt cache key: SHA-256 of (CiphertextBlob, canonical encryption context, KeyId,
 * EncryptionAlgorithm, GrantTokens), base64. GrantTokens are included beyond what the answer depends on
 * because they can grant the permission itself: a call without a token must not be answered from one
 * that had it. An absent KeyId or EncryptionAlgorithm is kept distinct from any value, even the default
 * one; that costs at most one extra miss and never a wrong hit.
 */
export function decryptCacheKey(input: DecryptKeyInput): string {
  const e = encoding('D');
  e.bytes(input.CiphertextBlob ?? new Uint8Array(0));
  e.context(input.EncryptionContext);
  e.optionalString(input.KeyId);
  e.optionalString(input.EncryptionAlgorithm);
  e.optionalList(input.GrantTokens);
  return e.digest();
}

/**
 * The coalescing key of a DescribeKey or GetPublicKey call: the operation, KeyId and GrantTokens.
 * @internal
 */
export function keyOperationKey(
  operation: string,
  input: {
    readonly KeyId?: string | undefined;
    readonly GrantTokens?: readonly string[] | undefined;
  },
): string {
  const e = encoding('O');
  e.string(operation);
  e.optionalString(input.KeyId);
  e.optionalList(input.GrantTokens);
  return e.digest();
}
