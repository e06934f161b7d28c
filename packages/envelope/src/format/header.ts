import { formatError } from '../errors.js';
import { getSuite, type AlgorithmSuite } from '../suites.js';
import { parseEncryptionContextBytes } from './encryptionContext.js';

/** One encrypted copy of the data key, as stored in the header. */
export interface EncryptedDataKey {
  /** Key provider ID (the keyring's namespace, or `aws-kms`). */
  readonly providerId: string;
  /** Key provider information (raw bytes; a key name, an ARN, or the raw AES key name plus IV). */
  readonly providerInfo: Buffer;
  /** The wrapped data key. */
  readonly encryptedDataKey: Buffer;
}

/** Content type of the body. */
export const ContentType = { NON_FRAMED: 1, FRAMED: 2 } as const;

/** A parsed message header. */
export interface MessageHeader {
  readonly version: 1 | 2;
  readonly suite: AlgorithmSuite;
  /** 16 bytes (v1) or 32 bytes (v2). */
  readonly messageId: Buffer;
  /** The encryption context stored in the header. */
  readonly encryptionContext: Record<string, string>;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly contentType: 1 | 2;
  /** Frame length in bytes; 0 for a non-framed body. */
  readonly frameLength: number;
  /** Algorithm suite data: the 32-byte key commitment of the committing suites, else empty. */
  readonly suiteData: Buffer;
}

/** A header plus the bytes the header authentication covers. */
export interface ParsedHeader {
  readonly header: MessageHeader;
  /** The serialised header body (the AAD of the header authentication). */
  readonly headerBody: Buffer;
  /** IV of the header authentication: serialised in v1, all zero in v2. */
  readonly headerIv: Buffer;
  readonly headerTag: Buffer;
  /** Bytes consumed: header body plus header authentication. */
  readonly length: number;
  /**
   * The header's serialised encryption context (a slice of the input) when it is exactly what
   * `serializeEncryptionContext` writes for `header.encryptionContext` (keys in ascending order); else
   * `undefined`. A decrypt uses it as the raw AES keyring's AAD instead of serialising the context again.
   */
  readonly serializedContext?: Buffer | undefined;
}

/** Thrown internally when the buffer ends before the header does (never escapes this module). */
class NeedMore extends Error {}
const NEED_MORE = new NeedMore('need more bytes');

class Cursor {
  o: number;
  constructor(
    readonly buf: Buffer,
    start: number,
  ) {
    this.o = start;
  }
  need(n: number): void {
    if (this.o + n > this.buf.length) throw NEED_MORE;
  }
  u8(): number {
    this.need(1);
    return this.buf[this.o++] as number;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.o);
    this.o += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.o);
    this.o += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
}

const ZERO_IV = Buffer.alloc(12);

/**
 * Parses a message header (v1 or v2) and its header authentication from `buf` at `offset`.
 * Returns `undefined` when more bytes are needed; throws `MessageFormatError` naming the field that is
 * invalid. Slices of `buf` are kept (not copied), except for the small fields that are copied so that a
 * streaming caller can drop its buffer.
 *
 * @param maxEncryptedDataKeys - refuse the header as soon as its EDK count exceeds this.
 */
export function parseHeader(
  buf: Buffer,
  offset = 0,
  maxEncryptedDataKeys = Infinity,
): ParsedHeader | undefined {
  try {
    return parse(new Cursor(buf, offset), offset, maxEncryptedDataKeys);
  } catch (e) {
    if (e === NEED_MORE) return undefined;
    throw e;
  }
}

function parse(c: Cursor, start: number, maxEdks: number): ParsedHeader {
  const version = c.u8();
  //= aws-encryption-sdk-specification/data-format/message-header.md#version
  //# The version (hex) of this field MUST be a value that exists in the following table:
  if (version !== 1 && version !== 2)
    throw formatError(`header: unsupported message format version ${version}`);
  if (version === 1) {
    //= aws-encryption-sdk-specification/data-format/message-header.md#type
    //# The type (hex) of this field MUST be a value that exists in the following table:
    const type = c.u8();
    if (type !== 0x80) throw formatError(`header: unsupported message type 0x${type.toString(16)}`);
  }
  const suiteId = c.u16();
  const suite = getSuite(suiteId);
  //= aws-encryption-sdk-specification/data-format/message-header.md#algorithm-suite-id
  //# The value (hex) of this field MUST be a value that exists in the Supported Algorithm Suites table.
  if (!suite) throw formatError(`header: unknown algorithm suite 0x${hex4(suiteId)}`);
  if (suite.messageFormat !== version) {
    throw formatError(
      `header: suite 0x${hex4(suiteId)} is not valid in message format version ${version}`,
    );
  }
  const messageId = Buffer.from(c.bytes(version === 1 ? 16 : 32));
  const aadLength = c.u16();
  const contextBytes = c.bytes(aadLength);
  const { context: encryptionContext, canonical } = parseEncryptionContextBytes(contextBytes);
  const edkCount = c.u16();
  //= aws-encryption-sdk-specification/data-format/message-header.md#encrypted-data-key-count
  //# This value MUST be greater than 0.
  if (edkCount === 0) throw formatError('header: encrypted data key count is 0');
  //= aws-encryption-sdk-specification/client-apis/decrypt.md#parse-the-header
  //# If the number of encrypted data keys deserialized from the message header is greater than the maximum number of encrypted data keys configured in the client, then as soon as that can be determined during deserializing decrypt MUST process no more bytes and yield an error.
  if (edkCount > maxEdks)
    throw formatError(`header: ${edkCount} encrypted data keys exceed the maximum of ${maxEdks}`);
  const encryptedDataKeys: EncryptedDataKey[] = [];
  for (let i = 0; i < edkCount; i++) {
    const providerIdBytes = c.bytes(c.u16());
    const providerInfo = Buffer.from(c.bytes(c.u16()));
    const encryptedDataKey = Buffer.from(c.bytes(c.u16()));
    const providerId = decodeProviderId(providerIdBytes);
    encryptedDataKeys.push({ providerId, providerInfo, encryptedDataKey });
  }
  const contentType = c.u8();
  //= aws-encryption-sdk-specification/data-format/message-header.md#content-type
  //# The value (hex) of this field MUST be a value that exists in the following table:
  if (contentType !== 1 && contentType !== 2)
    throw formatError(`header: unsupported content type ${contentType}`);
  if (version === 1) {
    //= aws-encryption-sdk-specification/data-format/message-header.md#reserved
    //# A reserved sequence of 4 bytes that MUST have the value (hex) of `00 00 00 00`.
    if (c.u32() !== 0) throw formatError('header: reserved field is not zero');
    //= aws-encryption-sdk-specification/data-format/message-header.md#iv-length
    //# This value MUST be equal to the IV length value of the algorithm suite specified by the Algorithm Suite ID field.
    if (c.u8() !== suite.ivLength)
      throw formatError('header: IV length does not match the algorithm suite');
  }
  const frameLength = c.u32();
  //= aws-encryption-sdk-specification/data-format/message-header.md#frame-length
  //# When the content type is non-framed, the value of this field MUST be 0.
  if (contentType === 1 && frameLength !== 0)
    throw formatError('header: non-framed message with a frame length');
  if (contentType === 2 && frameLength === 0)
    throw formatError('header: framed message with frame length 0');
  //= aws-encryption-sdk-specification/data-format/message-header.md#algorithm-suite-data
  //# The length of the suite data field MUST be equal to the Algorithm Suite Data Length value of the algorithm suite specified by the Algorithm Suite ID field.
  const suiteData = version === 2 ? Buffer.from(c.bytes(suite.suiteDataLength)) : Buffer.alloc(0);
  const bodyEnd = c.o;
  const headerIv = version === 1 ? Buffer.from(c.bytes(suite.ivLength)) : ZERO_IV;
  const headerTag = Buffer.from(c.bytes(suite.tagLength));
  return {
    header: {
      version,
      suite,
      messageId,
      encryptionContext,
      encryptedDataKeys,
      contentType,
      frameLength,
      suiteData,
    },
    headerBody: c.buf.subarray(start, bodyEnd),
    headerIv,
    headerTag,
    length: c.o - start,
    serializedContext: canonical ? contextBytes : undefined,
  };
}

// ignoreBOM: a leading U+FEFF is part of the ID (TextDecoder would drop it by default).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeProviderId(b: Buffer): string {
  // ASCII (every provider ID in practice: "aws-kms", a namespace) needs no validation.
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    if ((b[i] as number) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return b.toString('latin1');
  try {
    return utf8.decode(b);
  } catch {
    throw formatError('header: key provider ID is not valid UTF-8');
  }
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** Serialised size of the EDK list. */
function edksSize(edks: readonly EncryptedDataKey[]): number {
  let n = 2;
  for (const e of edks) {
    n +=
      6 +
      Buffer.byteLength(e.providerId, 'utf8') +
      e.providerInfo.length +
      e.encryptedDataKey.length;
  }
  return n;
}

function writeEdks(out: Buffer, o: number, edks: readonly EncryptedDataKey[]): number {
  if (edks.length === 0 || edks.length > 0xffff)
    throw formatError('header: encrypted data key count out of range');
  o = out.writeUInt16BE(edks.length, o);
  for (const e of edks) {
    const idLen = out.write(e.providerId, o + 2, 'utf8');
    if (idLen > 0xffff || e.providerInfo.length > 0xffff || e.encryptedDataKey.length > 0xffff) {
      throw formatError('header: an encrypted data key field is longer than 65,535 bytes');
    }
    out.writeUInt16BE(idLen, o);
    o += 2 + idLen;
    o = out.writeUInt16BE(e.providerInfo.length, o);
    o += e.providerInfo.copy(out, o);
    o = out.writeUInt16BE(e.encryptedDataKey.length, o);
    o += e.encryptedDataKey.copy(out, o);
  }
  return o;
}

/** Fields needed to write a header body. */
export interface HeaderFields {
  readonly suite: AlgorithmSuite;
  readonly messageId: Buffer;
  /** The already serialised encryption context (zero bytes when empty). */
  readonly serializedContext: Buffer;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly contentType: 1 | 2;
  readonly frameLength: number;
  /** v2 only: the key commitment. */
  readonly suiteData?: Buffer;
}

/**
 * Serialises a header body (v2 for the committing suites, v1 otherwise). The caller appends the header
 * authentication. `extra` bytes are reserved after the body so the caller can write the rest of the
 * message into the same allocation.
 */
export function serializeHeaderBody(f: HeaderFields, extra = 0): { buf: Buffer; length: number } {
  const v = f.suite.messageFormat;
  const ctx = f.serializedContext;
  if (ctx.length > 0xffff) throw formatError('header: encryption context longer than 65,535 bytes');
  const size =
    (v === 1 ? 2 + 2 + 16 : 1 + 2 + 32) +
    2 +
    ctx.length +
    edksSize(f.encryptedDataKeys) +
    1 +
    (v === 1 ? 5 : 0) +
    4 +
    (v === 2 ? f.suite.suiteDataLength : 0);
  const out = Buffer.allocUnsafe(size + extra);
  let o = 0;
  out[o++] = v;
  if (v === 1) out[o++] = 0x80;
  o = out.writeUInt16BE(f.suite.id, o);
  if (f.messageId.length !== (v === 1 ? 16 : 32))
    throw formatError('header: message ID has the wrong length');
  o += f.messageId.copy(out, o);
  o = out.writeUInt16BE(ctx.length, o);
  o += ctx.copy(out, o);
  o = writeEdks(out, o, f.encryptedDataKeys);
  out[o++] = f.contentType;
  if (v === 1) {
    o = out.writeUInt32BE(0, o);
    out[o++] = f.suite.ivLength;
  }
  o = out.writeUInt32BE(f.frameLength, o);
  if (v === 2) {
    const sd = f.suiteData;
    if (!sd || sd.length !== f.suite.suiteDataLength)
      throw formatError('header: suite data has the wrong length');
    o += sd.copy(out, o);
  }
  return { buf: out, length: o };
}
