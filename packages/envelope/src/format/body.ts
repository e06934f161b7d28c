import { formatError } from '../errors.js';

/** Body AAD content strings. */
//= aws-encryption-sdk-specification/data-format/message-body-aad.md#body-aad-content
//# Non-framed data MUST use the value `AWSKMSEncryptionClient Single Block`.
//# The regular frames in framed data MUST use the value `AWSKMSEncryptionClient Frame`.
//# The final frame in framed data MUST use the value `AWSKMSEncryptionClient Final Frame`.
export const BodyAadContent = {
  FRAME: Buffer.from('AWSKMSEncryptionClient Frame', 'utf8'),
  FINAL_FRAME: Buffer.from('AWSKMSEncryptionClient Final Frame', 'utf8'),
  SINGLE_BLOCK: Buffer.from('AWSKMSEncryptionClient Single Block', 'utf8'),
} as const;

/** Marks the final frame: the sequence-number-end field. */
export const SEQUENCE_NUMBER_END = 0xffffffff;

/** Largest number of frames a message may have (sequence numbers are uint32 and 0xFFFFFFFF is reserved). */
export const MAX_FRAMES = 0xfffffffe;

/**
 * Message body AAD: message ID, body AAD content, 4-byte sequence number and 8-byte plaintext length.
 */
export function serializeBodyAad(
  messageId: Buffer,
  content: Buffer,
  sequenceNumber: number,
  contentLength: number,
): Buffer {
  const out = Buffer.allocUnsafe(messageId.length + content.length + 12);
  let o = messageId.copy(out, 0);
  o += content.copy(out, o);
  o = out.writeUInt32BE(sequenceNumber, o);
  out.writeBigUInt64BE(BigInt(contentLength), o);
  return out;
}

/** The IV of a frame: its sequence number, big-endian, left-padded with zeros to the IV length. */
export function frameIv(sequenceNumber: number, ivLength = 12): Buffer {
  const iv = Buffer.alloc(ivLength);
  iv.writeUInt32BE(sequenceNumber, ivLength - 4);
  return iv;
}

/** A parsed frame or non-framed body; slices of the input, not copies. */
export interface ParsedFrame {
  readonly final: boolean;
  readonly sequenceNumber: number;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
  /** Bytes consumed. */
  readonly length: number;
}

/**
 * Parses one frame of a framed body at `offset`. Returns `undefined` when the buffer ends first. Checks the
 * final frame's content length against the header's frame length.
 */
export function parseFrame(
  buf: Buffer,
  offset: number,
  frameLength: number,
  ivLength = 12,
  tagLength = 16,
): ParsedFrame | undefined {
  if (offset + 4 > buf.length) return undefined;
  let seq = buf.readUInt32BE(offset);
  if (seq !== SEQUENCE_NUMBER_END) {
    const length = 4 + ivLength + frameLength + tagLength;
    if (offset + length > buf.length) return undefined;
    const ivStart = offset + 4;
    const ctStart = ivStart + ivLength;
    const tagStart = ctStart + frameLength;
    return {
      final: false,
      sequenceNumber: seq,
      iv: buf.subarray(ivStart, ctStart),
      ciphertext: buf.subarray(ctStart, tagStart),
      tag: buf.subarray(tagStart, tagStart + tagLength),
      length,
    };
  }
  const fixed = 4 + 4 + ivLength + 4;
  if (offset + fixed > buf.length) return undefined;
  seq = buf.readUInt32BE(offset + 4);
  const contentLength = buf.readUInt32BE(offset + 8 + ivLength);
  //= aws-encryption-sdk-specification/client-apis/decrypt.md#decrypt-the-message-body
  //# If deserializing a final frame, this operation MUST ensure that the length of the encrypted content field is less than or equal to the frame length deserialized in the message header.
  if (contentLength > frameLength)
    throw formatError('body: final frame is longer than the frame length');
  const length = fixed + contentLength + tagLength;
  if (offset + length > buf.length) return undefined;
  const ivStart = offset + 8;
  const ctStart = offset + fixed;
  const tagStart = ctStart + contentLength;
  return {
    final: true,
    sequenceNumber: seq,
    iv: buf.subarray(ivStart, ivStart + ivLength),
    ciphertext: buf.subarray(ctStart, tagStart),
    tag: buf.subarray(tagStart, tagStart + tagLength),
    length,
  };
}

/** Largest non-framed content: 2^36 - 32 bytes (the GCM limit). */
const MAX_NON_FRAMED = 2 ** 36 - 32;

/** Parses a non-framed body (IV, 8-byte content length, content, tag). */
export function parseNonFramedBody(
  buf: Buffer,
  offset: number,
  ivLength = 12,
  tagLength = 16,
): ParsedFrame | undefined {
  const fixed = ivLength + 8;
  if (offset + fixed > buf.length) return undefined;
  const len = Number(buf.readBigUInt64BE(offset + ivLength));
  //= aws-encryption-sdk-specification/data-format/message-body.md#encrypted-content-length
  //# The length MUST NOT be greater than `2^36 - 32`, or 64 gibibytes (64 GiB), due to restrictions
  //# imposed by the implemented algorithms.
  if (len > MAX_NON_FRAMED) throw formatError('body: non-framed content length too large');
  const length = fixed + len + tagLength;
  if (offset + length > buf.length) return undefined;
  const ctStart = offset + fixed;
  return {
    final: true,
    sequenceNumber: 1,
    iv: buf.subarray(offset, offset + ivLength),
    ciphertext: buf.subarray(ctStart, ctStart + len),
    tag: buf.subarray(ctStart + len, ctStart + len + tagLength),
    length,
  };
}

/**
 * How a plaintext of `plaintextLength` bytes is framed: regular frames of `frameLength`, then a final frame
 * of 1 to `frameLength` bytes (an empty final frame only for an empty plaintext). A plaintext that is a
 * whole number of frames ends with a full final frame, which the specification allows.
 */
export function frameCounts(
  plaintextLength: number,
  frameLength: number,
): { regular: number; finalLength: number } {
  if (plaintextLength === 0) return { regular: 0, finalLength: 0 };
  const regular = Math.ceil(plaintextLength / frameLength) - 1;
  return { regular, finalLength: plaintextLength - regular * frameLength };
}

/** Size in bytes of a framed body holding `plaintextLength` bytes in frames of `frameLength`. */
export function framedBodySize(
  plaintextLength: number,
  frameLength: number,
  ivLength = 12,
  tagLength = 16,
): number {
  const { regular, finalLength } = frameCounts(plaintextLength, frameLength);
  return (
    regular * (4 + ivLength + frameLength + tagLength) + (12 + ivLength + finalLength + tagLength)
  );
}

/** Writes the fixed fields of a regular frame; returns the offset where the ciphertext goes. */
export function writeFrameHeader(
  out: Buffer,
  o: number,
  sequenceNumber: number,
  iv: Buffer,
): number {
  o = out.writeUInt32BE(sequenceNumber, o);
  return o + iv.copy(out, o);
}

/** Writes the fixed fields of a final frame; returns the offset where the ciphertext goes. */
export function writeFinalFrameHeader(
  out: Buffer,
  o: number,
  sequenceNumber: number,
  iv: Buffer,
  contentLength: number,
): number {
  o = out.writeUInt32BE(SEQUENCE_NUMBER_END, o);
  o = out.writeUInt32BE(sequenceNumber, o);
  o += iv.copy(out, o);
  return out.writeUInt32BE(contentLength, o);
}

/** Parses the footer (2-byte signature length, then the DER signature). */
export function parseFooter(
  buf: Buffer,
  offset: number,
): { signature: Buffer; length: number } | undefined {
  if (offset + 2 > buf.length) return undefined;
  const len = buf.readUInt16BE(offset);
  if (offset + 2 + len > buf.length) return undefined;
  return { signature: buf.subarray(offset + 2, offset + 2 + len), length: 2 + len };
}

/** Serialises the footer. */
export function serializeFooter(signature: Buffer): Buffer {
  if (signature.length > 0xffff) throw formatError('footer: signature too long');
  const out = Buffer.allocUnsafe(2 + signature.length);
  out.writeUInt16BE(signature.length, 0);
  signature.copy(out, 2);
  return out;
}
