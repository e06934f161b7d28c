import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { AlgorithmSuite } from '../suites.js';
import { BodyAadContent } from '../format/body.js';
import { decryptionError } from '../errors.js';

/**
 * Per-message AES-GCM state for frames: the content key, and AAD and IV buffers that are rewritten in
 * place for each frame (Node copies AAD and IV synchronously), so a frame costs one cipher object and its
 * output, nothing else.
 */
export class FrameCipher {
  readonly #key: Buffer;
  readonly #cipher: AlgorithmSuite['cipher'];
  readonly #regularAad: Buffer;
  readonly #finalAad: Buffer;
  readonly #singleAad: Buffer;
  readonly #iv: Buffer;
  readonly #idLength: number;

  constructor(suite: AlgorithmSuite, key: Buffer, messageId: Buffer) {
    this.#key = key;
    this.#cipher = suite.cipher;
    this.#idLength = messageId.length;
    const mk = (content: Buffer): Buffer => {
      const b = Buffer.alloc(messageId.length + content.length + 12);
      messageId.copy(b, 0);
      content.copy(b, messageId.length);
      return b;
    };
    this.#regularAad = mk(BodyAadContent.FRAME);
    this.#finalAad = mk(BodyAadContent.FINAL_FRAME);
    this.#singleAad = mk(BodyAadContent.SINGLE_BLOCK);
    this.#iv = Buffer.alloc(suite.ivLength);
  }

  #aad(kind: 0 | 1 | 2, seq: number, length: number): Buffer {
    const aad = kind === 0 ? this.#regularAad : kind === 1 ? this.#finalAad : this.#singleAad;
    const o = aad.length - 12;
    aad.writeUInt32BE(seq, o);
    // Content length is a uint64; frames are < 2^32 and non-framed bodies < 2^36.
    aad.writeUInt32BE(Math.floor(length / 0x100000000), o + 4);
    aad.writeUInt32BE(length >>> 0, o + 8);
    return aad;
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
    c.setAAD(this.#aad(kind, seq, plaintext.length));
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
    d.setAAD(this.#aad(kind, seq, ciphertext.length));
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
