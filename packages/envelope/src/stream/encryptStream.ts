import { createSign, type Sign } from 'node:crypto';
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import { SteadyKmsError } from '@steadykms/core';
import { MAX_FRAMES, writeFinalFrameHeader, writeFrameHeader } from '../format/body.js';
import {
  startEncrypt,
  type EncryptOptionsBase,
  type EncryptSession,
} from '../internal/EncryptSession.js';
import { formatError } from '../errors.js';

/** Options of {@link encryptStream}. */
export interface EncryptStreamOptions extends EncryptOptionsBase {
  /**
   * Plaintext length in bytes, when known up front. Optional; the caching materials manager uses it to
   * count bytes against its limit before the data key is handed out.
   */
  readonly plaintextLength?: number;
  /** Aborts the stream (it is destroyed with an `AbortError`). */
  readonly signal?: AbortSignal;
}

/**
 * Plaintext bytes not yet framed, kept as the chunks they arrived in (no concatenation): a frame inside
 * one chunk is a zero-copy slice, only frames that straddle chunks are copied.
 */
class ChunkQueue {
  #chunks: Buffer[] = [];
  #head = 0;
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.#chunks.push(b);
    this.length += b.length;
  }

  take(n: number): Buffer {
    this.length -= n;
    const first = this.#chunks[0];
    if (first && first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.#head += n;
      if (this.#head === first.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = this.#chunks[0] as Buffer;
      const k = Math.min(n - o, c.length - this.#head);
      c.copy(out, o, this.#head, this.#head + k);
      o += k;
      this.#head += k;
      if (this.#head === c.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    return out;
  }
}

class EncryptTransform extends Transform {
  readonly #options: EncryptStreamOptions;
  #s: EncryptSession | undefined;
  #signer: Sign | undefined;
  readonly #queue = new ChunkQueue();
  #seq = 1;

  constructor(options: EncryptStreamOptions) {
    super(options.signal ? { signal: options.signal } : {});
    this.#options = options;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    startEncrypt(this.#options, this.#options.plaintextLength, () => 0).then(
      (s) => {
        this.#s = s;
        if (s.suite.signature) this.#signer = createSign(s.suite.signature.hash);
        this.#emit(s.buffer.subarray(0, s.headerLength));
        callback();
      },
      (e: unknown) => callback(e as Error),
    );
  }

  #emit(b: Buffer): void {
    //= aws-encryption-sdk-specification/client-apis/encrypt.md#construct-a-frame
    //# If the algorithm suite contains a signature algorithm and this operation is streaming the encrypted message output to the caller, this operation MUST input the serialized frame to the signature algorithm as soon as it is serialized
    this.#signer?.update(b);
    this.push(b);
  }

  override _transform(
    chunk: Buffer | string,
    _enc: BufferEncoding,
    callback: TransformCallback,
  ): void {
    const s = this.#s as EncryptSession;
    this.#queue.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    const fl = s.frameLength;
    // Keep at least one byte back: the last frame must be written as the final frame.
    const k = Math.floor((this.#queue.length - 1) / fl);
    if (k <= 0) return callback();
    if (this.#seq + k > MAX_FRAMES)
      return callback(formatError('plaintext needs more than 2^32 - 2 frames'));
    const frameSize = 4 + 12 + fl + 16;
    const out = Buffer.allocUnsafe(k * frameSize);
    let o = 0;
    try {
      for (let i = 0; i < k; i++) {
        const seq = this.#seq++;
        o = writeFrameHeader(out, o, seq, s.frames.iv(seq));
        o = s.frames.encryptInto(0, seq, this.#queue.take(fl), out, o);
      }
    } catch (e) {
      return callback(e as Error);
    }
    this.#emit(out);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const s = this.#s as EncryptSession;
    try {
      const n = this.#queue.length;
      const pt = n > 0 ? this.#queue.take(n) : Buffer.alloc(0);
      const out = Buffer.allocUnsafe(4 + 4 + 12 + 4 + n + 16);
      const seq = this.#seq;
      const o = writeFinalFrameHeader(out, 0, seq, s.frames.iv(seq), n);
      s.frames.encryptInto(1, seq, pt, out, o);
      this.#emit(out);
      if (this.#signer && s.signingKey) {
        const sig = this.#signer.sign({ key: s.signingKey, dsaEncoding: 'der' });
        const footer = Buffer.allocUnsafe(2 + sig.length);
        footer.writeUInt16BE(sig.length, 0);
        sig.copy(footer, 2);
        this.push(footer);
      }
      s.frames.destroy();
      callback();
    } catch (e) {
      callback(SteadyKmsError.is(e) ? e : (e as Error));
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#s?.frames.destroy();
    callback(error);
  }
}

/**
 * A `node:stream` Transform: plaintext in, one AWS Encryption SDK message out. Memory stays at about one
 * input chunk plus one frame whatever the size; the header is written as soon as the data key is ready.
 */
export function encryptStream(options: EncryptStreamOptions): Transform {
  return new EncryptTransform(options);
}

/** The same as {@link encryptStream}, as a web `TransformStream`-shaped pair. */
export function encryptWebStream(options: EncryptStreamOptions): {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
} {
  return Duplex.toWeb(new EncryptTransform(options));
}
