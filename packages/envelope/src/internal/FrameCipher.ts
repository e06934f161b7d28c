import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { AlgorithmSuite } from '../suites.js';
import { BodyAadContent } from '../format/body.js';
import { decryptionError } from '../errors.js';

/** Longest body AAD content string ("AWSKMSEncryptionClient Single Block"). */
const MAX_CONTENT = Math.max(
  BodyAadContent.FRAME.length,
  BodyAadContent.FINAL_FRAME.length,
  BodyAadContent.SINGLE_BLOCK.length,
);

/**
 * Per-message AES-GCM state for frames, used by the whole-message APIs and the streams alike: the content
 * key, and one AAD and one IV buffer that are rewritten in place for each frame (Node copies AAD and IV
 * synchronously), so a frame costs one cipher object and its output, nothing else. For a 4 KiB message
 * every allocation shows (0x0478 encrypt took 108-123 instead of 61-75 us of CPU when each message also
 * registered its cipher), so the streams' batch state is built only when a stream asks for it.
 */
export class FrameCipher {
  readonly #key: Buffer;
  readonly #cipher: AlgorithmSuite['cipher'];
  readonly #idLength: number;
  /** Message ID, then the content string and the 12-byte sequence number and length, rewritten per frame. */
  readonly #aad: Buffer;
  readonly #iv: Buffer;

  constructor(suite: AlgorithmSuite, key: Buffer, messageId: Buffer) {
    this.#key = key;
    this.#cipher = suite.cipher;
    this.#idLength = messageId.length;
    this.#aad = Buffer.allocUnsafe(messageId.length + MAX_CONTENT + 12);
    messageId.copy(this.#aad, 0);
    this.#iv = Buffer.alloc(suite.ivLength);
  }

  /**
   * The batch state for {@link sealFrames} / {@link openFrames} on this thread, or, with `copy`, a copy of
   * it for a worker thread (the caller zeroes `key` once it is posted).
   */
  batchState(frameLength: number, copy = false): FrameBatchState {
    const aad = Buffer.alloc(this.#idLength + BodyAadContent.FRAME.length + 12);
    this.#aad.copy(aad, 0, 0, this.#idLength);
    BodyAadContent.FRAME.copy(aad, this.#idLength);
    return {
      cipher: this.#cipher,
      key: copy ? Buffer.from(this.#key) : this.#key,
      aad,
      iv: copy ? Buffer.alloc(this.#iv.length) : this.#iv,
      frameLength,
    };
  }

  /** Message body AAD: message ID, body AAD content, 4-byte sequence number, 8-byte content length. */
  #aadFor(kind: 0 | 1 | 2, seq: number, length: number): Buffer {
    const content =
      kind === 0
        ? BodyAadContent.FRAME
        : kind === 1
          ? BodyAadContent.FINAL_FRAME
          : BodyAadContent.SINGLE_BLOCK;
    const aad = this.#aad;
    let o = this.#idLength + content.copy(aad, this.#idLength);
    o = aad.writeUInt32BE(seq, o);
    // Content length is a uint64; frames are < 2^32 and non-framed bodies < 2^36.
    o = aad.writeUInt32BE(Math.floor(length / 0x100000000), o);
    o = aad.writeUInt32BE(length >>> 0, o);
    return o === aad.length ? aad : aad.subarray(0, o);
  }

  /** The IV of frame `seq` (a shared buffer: copy it out before the next call). */
  iv(seq: number): Buffer {
    this.#iv.writeUInt32BE(seq, this.#iv.length - 4);
    return this.#iv;
  }

  /**
   * Encrypts a frame's plaintext into `out` at `o` (ciphertext then tag); returns the offset after the tag.
   * `kind`: 0 regular frame, 1 final frame.
   */
  encryptInto(kind: 0 | 1, seq: number, plaintext: Uint8Array, out: Buffer, o: number): number {
    const c = createCipheriv(this.#cipher, this.#key, this.iv(seq));
    c.setAAD(this.#aadFor(kind, seq, plaintext.length));
    if (plaintext.length > 0) o += c.update(plaintext).copy(out, o);
    c.final();
    return o + c.getAuthTag().copy(out, o);
  }

  /**
   * Decrypts and authenticates one frame (or the non-framed body, kind 2). Throws `DecryptionError` when
   * the tag does not verify; nothing is returned in that case.
   */
  decrypt(kind: 0 | 1 | 2, seq: number, iv: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
    const d = createDecipheriv(this.#cipher, this.#key, iv, { authTagLength: 16 });
    d.setAAD(this.#aadFor(kind, seq, ciphertext.length));
    d.setAuthTag(tag);
    const out = ciphertext.length > 0 ? d.update(ciphertext) : EMPTY;
    try {
      d.final();
    } catch {
      out.fill(0);
      throw decryptionError(
        kind === 2 ? 'body authentication failed' : `frame ${seq} authentication failed`,
      );
    }
    return out;
  }

  /** Zeroes the content key. */
  destroy(): void {
    this.#key.fill(0);
  }

  get messageIdLength(): number {
    return this.#idLength;
  }
}

const EMPTY = Buffer.alloc(0);

/** What {@link sealFrames} and {@link openFrames} need: plain data, so it can be posted to a worker. */
export interface FrameBatchState {
  readonly cipher: AlgorithmSuite['cipher'];
  /** The content key (zeroed by its owner when the message is done). */
  readonly key: Buffer;
  /** Regular-frame AAD: message ID, body AAD content, then 12 bytes rewritten per frame. */
  readonly aad: Buffer;
  /** Scratch IV, rewritten per frame. */
  readonly iv: Buffer;
  /** Plaintext bytes per regular frame. */
  readonly frameLength: number;
}

/** The `node:crypto` functions the batch functions use, passed in so a worker can give its own. */
export type FrameCrypto = Pick<typeof import('node:crypto'), 'createCipheriv' | 'createDecipheriv'>;

/**
 * Seals `count` regular frames in place. `buf` holds them at a stride of `4 + ivLength + frameLength + 16`
 * bytes, each with its plaintext already at offset `4 + ivLength` of its slot; this writes the sequence
 * number, the IV, the ciphertext over the plaintext, and the tag. Frame `i` gets sequence number
 * `firstSeq + i`.
 *
 * Self-contained on purpose (only its parameters and the global `Buffer`): worker threads run it from its
 * source text, so the main thread and the workers share one implementation.
 */
export function sealFrames(
  c: FrameCrypto,
  k: FrameBatchState,
  buf: Buffer,
  firstSeq: number,
  count: number,
): void {
  const fl = k.frameLength;
  const iv = k.iv;
  const ivl = iv.length;
  const stride = 4 + ivl + fl + 16;
  const aad = k.aad;
  const ao = aad.length - 12;
  // Content length is a uint64 and the same for every regular frame.
  aad.writeUInt32BE(Math.floor(fl / 0x100000000), ao + 4);
  aad.writeUInt32BE(fl >>> 0, ao + 8);
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    const o = i * stride;
    const p = o + 4 + ivl;
    iv.writeUInt32BE(seq, ivl - 4);
    aad.writeUInt32BE(seq, ao);
    buf.writeUInt32BE(seq, o);
    iv.copy(buf, o + 4);
    const ci = c.createCipheriv(k.cipher, k.key, iv);
    ci.setAAD(aad);
    ci.update(buf.subarray(p, p + fl)).copy(buf, p);
    ci.final();
    ci.getAuthTag().copy(buf, p + fl);
  }
}

/**
 * Opens `count` regular frames laid out as {@link sealFrames} writes them, checking each tag, and writes
 * frame `i`'s plaintext at `i * frameLength` (below its own slot, so nothing unread is overwritten).
 * Stops at the first frame whose tag does not verify and returns its index (its plaintext is zeroed and
 * not written); returns `count` when every frame verified. Sequence numbers are the caller's to check:
 * frame `i` is authenticated as number `firstSeq + i`. Self-contained, like {@link sealFrames}.
 */
export function openFrames(
  c: FrameCrypto,
  k: FrameBatchState,
  buf: Buffer,
  firstSeq: number,
  count: number,
): number {
  const fl = k.frameLength;
  const ivl = k.iv.length;
  const stride = 4 + ivl + fl + 16;
  const aad = k.aad;
  const ao = aad.length - 12;
  aad.writeUInt32BE(Math.floor(fl / 0x100000000), ao + 4);
  aad.writeUInt32BE(fl >>> 0, ao + 8);
  for (let i = 0; i < count; i++) {
    const o = i * stride;
    const ct = o + 4 + ivl;
    const tag = ct + fl;
    aad.writeUInt32BE(firstSeq + i, ao);
    const d = c.createDecipheriv(k.cipher, k.key, buf.subarray(o + 4, ct), { authTagLength: 16 });
    d.setAAD(aad);
    d.setAuthTag(buf.subarray(tag, tag + 16));
    const pt = d.update(buf.subarray(ct, tag));
    try {
      d.final();
    } catch {
      pt.fill(0);
      return i;
    }
    pt.copy(buf, i * fl);
  }
  return count;
}

/** Computes the header authentication tag (AES-GCM over an empty plaintext). */
export function headerTag(
  suite: AlgorithmSuite,
  key: Buffer,
  iv: Buffer,
  aad: Buffer,
  extraAad: Buffer,
): Buffer {
  const c = createCipheriv(suite.cipher, key, iv);
  c.setAAD(extraAad.length === 0 ? aad : Buffer.concat([aad, extraAad]));
  c.final();
  return c.getAuthTag();
}

/** Verifies the header authentication tag. */
export function verifyHeaderTag(
  suite: AlgorithmSuite,
  key: Buffer,
  iv: Buffer,
  aad: Buffer,
  extraAad: Buffer,
  tag: Buffer,
): void {
  const d = createDecipheriv(suite.cipher, key, iv, { authTagLength: 16 });
  d.setAAD(extraAad.length === 0 ? aad : Buffer.concat([aad, extraAad]));
  d.setAuthTag(tag);
  try {
    d.final();
  } catch {
    //= aws-encryption-sdk-specification/client-apis/decrypt.md#verify-the-header
    //# If this tag verification fails, this operation MUST immediately halt and fail.
    throw decryptionError(
      'header authentication failed (wrong key, or tampered header or encryption context)',
    );
  }
}
