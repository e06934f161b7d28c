import { createCipheriv, createDecipheriv, createSign, type Sign } from 'node:crypto';
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import { SteadyKmsError } from '@steadykms/core';
import { MAX_FRAMES, writeFinalFrameHeader } from '../format/body.js';
import { sealFrames, type FrameBatchState, type FrameCrypto } from '../internal/FrameCipher.js';
import {
  FrameWorkers,
  OrderedBatches,
  framesPerBatch,
  resolveParallel,
  type ParallelStreamOptions,
} from '../internal/parallelFrames.js';
import {
  startEncrypt,
  type EncryptOptionsBase,
  type EncryptSession,
} from '../internal/EncryptSession.js';
import { formatError } from '../errors.js';

/** Options of {@link encryptStream}. */
export interface EncryptStreamOptions extends EncryptOptionsBase, ParallelStreamOptions {
  /**
   * Plaintext length in bytes, when known up front. Optional; the caching materials manager uses it to
   * count bytes against its limit before the data key is handed out.
   */
  readonly plaintextLength?: number;
  /** Aborts the stream (it is destroyed with an `AbortError`). */
  readonly signal?: AbortSignal;
}

/** Most batches in flight per worker thread: enough to keep every worker busy, and memory bounded. */
const IN_FLIGHT_PER_THREAD = 2;

class EncryptTransform extends Transform {
  readonly #options: EncryptStreamOptions;
  readonly #threads: number;
  readonly #after: number;
  #s: EncryptSession | undefined;
  #signer: Sign | undefined;
  #state: FrameBatchState | undefined;
  /** Frames of the current batch at a stride of `4 + 12 + frameLength + 16`; plaintext copied in place. */
  #batch: Buffer | undefined;
  #cap = 0;
  /** Complete frames in the batch, bytes of the frame after them, and frames already sealed and pushed. */
  #frames = 0;
  #fill = 0;
  #sealed = 0;
  /** Sequence number of the batch's first frame. */
  #batchSeq = 1;
  #parallel = false;
  #seen = 0;
  #workers: FrameWorkers | undefined;
  readonly #line = new OrderedBatches<undefined>(
    (r) => this.#emit(r.buf),
    (e) => this.destroy(e),
  );

  constructor(options: EncryptStreamOptions) {
    super(options.signal ? { signal: options.signal } : {});
    this.#options = options;
    const p = resolveParallel(options);
    this.#threads = p.threads;
    this.#after = p.after;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    startEncrypt(this.#options, this.#options.plaintextLength, () => 0).then(
      (s) => {
        this.#s = s;
        this.#state = s.frames.batchState(s.frameLength);
        if (s.suite.signature) this.#signer = createSign(s.suite.signature.hash);
        this.#emit(s.buffer.subarray(0, s.headerLength));
        callback();
      },
      (e: unknown) => callback(e as Error),
    );
  }

  #emit(b: Buffer): void {
    //= aws-encryption-sdk-specification/client-apis/encrypt.md#construct-the-header
    //# If the algorithm suite contains a signature algorithm and this operation is streaming the
    //# encrypted message output to the caller, this operation MUST input the serialized header to
    //# the signature algorithm as soon as it is serialized, such that the serialized header isn't
    //# required to remain in memory to construct the signature.
    //= aws-encryption-sdk-specification/client-apis/encrypt.md#construct-a-frame
    //# If the algorithm suite contains a signature algorithm and this operation is streaming the
    //# encrypted message output to the caller, this operation MUST input the serialized frame to
    //# the signature algorithm as soon as it is serialized, such that the serialized frame isn't
    //# required to remain in memory to construct the signature.
    this.#signer?.update(b);
    this.push(b);
  }

  get #stride(): number {
    return 4 + 12 + (this.#s as EncryptSession).frameLength + 16;
  }

  /**
   * Starts a batch. Serial batches start small and double (a short stream never allocates a megabyte);
   * once the stream is past `parallelAfterBytes` and threads are allowed, batches are full size and
   * go to the workers.
   */
  #newBatch(): void {
    const s = this.#s as EncryptSession;
    const full = framesPerBatch(s.frameLength);
    this.#parallel = this.#threads > 0 && this.#seen >= this.#after;
    if (this.#parallel) {
      this.#workers ??= new FrameWorkers(this.#threads, s.frames.batchState(s.frameLength, true));
      this.#cap = full;
    } else {
      this.#cap = Math.min(full, Math.max(16, this.#cap * 2));
    }
    this.#batchSeq += this.#frames;
    this.#batch = Buffer.allocUnsafeSlow(this.#cap * this.#stride);
    this.#frames = 0;
    this.#fill = 0;
    this.#sealed = 0;
  }

  /** Seals frames `[sealed, upto)` of the batch on this thread and pushes them. */
  #sealHere(upto: number): void {
    if (upto <= this.#sealed) return;
    const stride = this.#stride;
    const first = this.#batchSeq + this.#sealed;
    if (first + (upto - this.#sealed) > MAX_FRAMES)
      throw formatError('plaintext needs more than 2^32 - 2 frames');
    const region = (this.#batch as Buffer).subarray(this.#sealed * stride, upto * stride);
    sealFrames(cryptoFns, this.#state as FrameBatchState, region, first, upto - this.#sealed);
    this.#sealed = upto;
    this.#emit(region);
  }

  /**
   * The batch is full and more plaintext follows, so every frame in it is a regular frame. In parallel
   * mode it goes to a worker, or, when every worker already has its share queued, this thread seals it
   * (the calling thread is one of the cores too); either way it is released in order.
   */
  #closeBatch(): void {
    if (!this.#parallel) return this.#sealHere(this.#frames);
    const first = this.#batchSeq;
    const count = this.#frames;
    if (first + count > MAX_FRAMES) throw formatError('plaintext needs more than 2^32 - 2 frames');
    const batch = this.#batch as Buffer;
    this.#batch = undefined;
    const w = this.#workers as FrameWorkers;
    if (w.inFlight < this.#threads * IN_FLIGHT_PER_THREAD) {
      this.#line.add(w.run('seal', batch, first, count), undefined);
    } else {
      sealFrames(cryptoFns, this.#state as FrameBatchState, batch, first, count);
      this.#line.add(Promise.resolve({ buf: batch, good: count }), undefined);
    }
  }

  override _transform(
    chunk: Buffer | string,
    _enc: BufferEncoding,
    callback: TransformCallback,
  ): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.#seen += b.length;
    this.#feed(b, 0, callback);
  }

  /** Copies plaintext into frame slots from `p` on, handing off each batch that fills. */
  #feed(chunk: Buffer, p: number, callback: TransformCallback): void {
    try {
      const fl = (this.#s as EncryptSession).frameLength;
      const stride = this.#stride;
      while (p < chunk.length) {
        if (this.#batch === undefined) this.#newBatch();
        else if (this.#frames === this.#cap) {
          this.#closeBatch();
          this.#newBatch();
          const limit = this.#threads * IN_FLIGHT_PER_THREAD + 1;
          if (this.#line.size > 0 && this.#line.size >= limit) {
            const at = p;
            this.#line.whenBelow(limit, () => this.#feed(chunk, at, callback));
            return;
          }
        }
        const n = Math.min(fl - this.#fill, chunk.length - p);
        chunk.copy(this.#batch as Buffer, this.#frames * stride + 16 + this.#fill, p, p + n);
        p += n;
        this.#fill += n;
        if (this.#fill === fl) {
          this.#frames++;
          this.#fill = 0;
        }
      }
      // Serial: seal what is known to be regular now (a complete frame with more bytes after it), so output
      // follows input chunk by chunk. The last complete frame waits: it may turn out to be the final one.
      if (!this.#parallel && this.#batch)
        this.#sealHere(this.#fill > 0 ? this.#frames : this.#frames - 1);
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    this.#line.whenBelow(1, () => this.#finish(callback));
  }

  #finish(callback: TransformCallback): void {
    const s = this.#s as EncryptSession;
    try {
      const stride = this.#stride;
      const batch = this.#batch;
      // The final frame: the partial frame if any, else the last complete frame (a full final frame).
      const last = this.#fill > 0 ? this.#frames : Math.max(0, this.#frames - 1);
      const n = this.#fill > 0 ? this.#fill : this.#frames > 0 ? s.frameLength : 0;
      this.#sealHere(last);
      const pt = batch ? batch.subarray(last * stride + 16, last * stride + 16 + n) : EMPTY;
      const seq = this.#batchSeq + last;
      const out = Buffer.allocUnsafe(4 + 4 + 12 + 4 + n + 16);
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
      this.#release();
      callback();
    } catch (e) {
      callback(SteadyKmsError.is(e) ? e : (e as Error));
    }
  }

  /** Zeroes the content key here and in the workers, and ends the workers. */
  #release(): void {
    this.#line.abandon();
    this.#workers?.close();
    this.#s?.frames.destroy();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#release();
    callback(error);
  }
}

const EMPTY = Buffer.alloc(0);
const cryptoFns: FrameCrypto = { createCipheriv, createDecipheriv };

/**
 * A `node:stream` Transform: plaintext in, one AWS Encryption SDK message out. Memory stays bounded whatever
 * the size (one input chunk plus a batch of frames serially; a few batches of about 1 MiB in flight with
 * worker threads); the header is written as soon as the data key is ready.
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
