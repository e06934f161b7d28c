import { createHash, type Hash } from 'node:crypto';

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

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function putBytes(h: Hash, bytes: Uint8Array): void {
  h.update(u32(bytes.byteLength));
  h.update(bytes);
}

function putString(h: Hash, s: string): void {
  putBytes(h, Buffer.from(s, 'utf16le'));
}

function putOptionalString(h: Hash, s: string | undefined): void {
  if (s === undefined) h.update(ZERO);
  else {
    h.update(ONE);
    putString(h, s);
  }
}

const ZERO = Buffer.from([0]);
const ONE = Buffer.from([1]);
const TWO = Buffer.from([2]);

/** Absent and empty contexts are the same to KMS, so they encode the same. */
function putContext(h: Hash, context: Readonly<Record<string, string>> | undefined): void {
  const keys = context === undefined ? [] : Object.keys(context).sort();
  h.update(u32(keys.length));
  for (const k of keys) {
    putString(h, k);
    putString(h, String(context![k]));
  }
}

function putOptionalList(h: Hash, list: readonly string[] | undefined): void {
  if (list === undefined) {
    h.update(ZERO);
    return;
  }
  h.update(ONE);
  h.update(u32(list.length));
  for (const s of list) putString(h, s);
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
  const h = createHash('sha256');
  h.update(Buffer.from('K'));
  putString(h, key.keyId);
  putContext(h, key.encryptionContext);
  const spec = key.keySpec;
  if (spec === undefined) h.update(ZERO);
  else if (typeof spec === 'number') {
    h.update(ONE);
    putString(h, String(spec));
  } else {
    h.update(TWO);
    putString(h, spec);
  }
  const p = key.partition;
  if (p === undefined) h.update(ZERO);
  else if (typeof p === 'string') {
    h.update(ONE);
    putString(h, p);
  } else {
    h.update(TWO);
    putBytes(h, p);
  }
  const parts = key.parts ?? [];
  h.update(u32(parts.length));
  for (const part of parts) {
    if (typeof part === 'string') {
      h.update(ONE);
      putString(h, part);
    } else {
      h.update(TWO);
      putBytes(h, part);
    }
  }
  return h.digest('base64');
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
  const h = createHash('sha256');
  h.update(Buffer.from('D'));
  putBytes(h, input.CiphertextBlob ?? new Uint8Array(0));
  putContext(h, input.EncryptionContext);
  putOptionalString(h, input.KeyId);
  putOptionalString(h, input.EncryptionAlgorithm);
  putOptionalList(h, input.GrantTokens);
  return h.digest('base64');
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
  const h = createHash('sha256');
  h.update(Buffer.from('O'));
  putString(h, operation);
  putOptionalString(h, input.KeyId);
  putOptionalList(h, input.GrantTokens);
  return h.digest('base64');
}
