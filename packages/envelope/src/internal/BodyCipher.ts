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
 * The frame cipher of the whole-message APIs (`encrypt`, `decrypt`, the worker pool): the same AES-GCM
 * framing as `FrameCipher` (checked against it in the tests), with one scratch AAD buffer and one IV buffer
 * per message. `FrameCipher` belongs to the stream code and carries its batch state (three prebuilt AAD
 * buffers, and at the time of writing a registry entry by message ID); for a 4 KiB message every
 * allocation and any GC bookkeeping shows: with the registry, 0x0478 encrypt took 108-123 instead of 61-75
 * us of CPU. Sessions build a `FrameCipher` only when a stream asks for one.
 * @internal
 */
export class BodyCipher {
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

  /** Zeroes the content key (shared with a `FrameCipher` made for the same message, if any). */
  destroy(): void {
    this.#key.fill(0);
  }
}

const EMPTY = Buffer.alloc(0);
