import { createCipheriv, createDecipheriv, type Verify } from 'node:crypto';
import { SEQUENCE_NUMBER_END, parseFooter, parseFrame } from '../format/body.js';
import { decryptionError, formatError } from '../errors.js';
import {
  openFrames,
  type FrameBatchState,
  type FrameCipher,
  type FrameCrypto,
} from '../internal/FrameCipher.js';
import { FrameWorkers, OrderedBatches, framesPerBatch } from '../internal/parallelFrames.js';
import { badSignature } from '../internal/DecryptSession.js';

const cryptoFns: FrameCrypto = { createCipheriv, createDecipheriv };

/** Most batches in flight per worker thread. */
const IN_FLIGHT_PER_THREAD = 2;

/** What {@link FramedBodyReader} needs from the decrypt stream. */
export interface FramedBodyOptions {
  readonly cipher: FrameCipher;
  readonly frameLength: number;
  /** The signature hash (already fed the header), for signed suites. */
  readonly verifier: Verify | undefined;
  /** Verifies the signature over everything fed to `verifier`. */
  readonly verify: ((signature: Buffer) => boolean) | undefined;
  /** Extra worker threads; `0` for none. */
  readonly threads: number;
  /** Bytes handled serially before the threads start. */
  readonly parallelAfterBytes: number;
  /** Releases authenticated plaintext, in order. */
  readonly push: (b: Buffer) => void;
  /** Fails the stream (called at most once, from a worker result). */
  readonly fail: (e: Error) => void;
}

/**
 * Reads a framed body (v1 or v2, 12-byte IVs) from a stream, copying the regular frames into batches at
 * their natural stride and opening them in place: on this thread chunk by chunk, or, past
 * `parallelAfterBytes` with threads allowed, a batch of about 1 MiB at a time on a worker (or
 * here, when the workers are busy). The calling thread checks every sequence number, hashes the body for
 * the signature in batch-sized pieces, and releases plaintext strictly in order and only once its frame's
 * tag verified. The final frame and the footer are kept aside and handled at {@link end}: the final
 * frame's plaintext is released only after the signature verifies.
 */
export class FramedBodyReader {
  readonly #o: FramedBodyOptions;
  readonly #state: FrameBatchState;
  readonly #stride: number;
  readonly #full: number;
  #batch: Buffer | undefined;
  #cap = 0;
  #frames = 0;
  #fill = 0;
  /** Frames of the batch already hashed, opened and released (serial batches). */
  #opened = 0;
  #batchSeq = 1;
  #parallel = false;
  #seen = 0;
  #workers: FrameWorkers | undefined;
  readonly #line: OrderedBatches<{ first: number; count: number }>;
  /** The final frame and footer, once the final-frame marker was seen. */
  #tail: Buffer[] | undefined;
  #tailLength = 0;
  readonly #maxTail: number;
  #failed = false;

  constructor(o: FramedBodyOptions) {
    this.#o = o;
    this.#state = o.cipher.batchState(o.frameLength);
    this.#stride = 4 + 12 + o.frameLength + 16;
    this.#full = framesPerBatch(o.frameLength);
    this.#maxTail = 4 + 4 + 12 + 4 + o.frameLength + 16 + (o.verify ? 2 + 0xffff : 0);
    this.#line = new OrderedBatches<{ first: number; count: number }>(
      (r, { first, count }) => {
        if (r.good > 0 && !this.#failed) this.#o.push(r.buf.subarray(0, r.good * o.frameLength));
        if (r.good < count) {
          this.#failed = true;
          this.#o.fail(frameFailed(first + r.good));
        }
      },
      (e) => {
        this.#failed = true;
        this.#o.fail(e);
      },
    );
  }

  /** True when frames are cut in batches of at least two (else the caller keeps its frame-by-frame path). */
  static suits(frameLength: number): boolean {
    return framesPerBatch(frameLength) >= 2;
  }

  #newBatch(): void {
    this.#parallel = this.#o.threads > 0 && this.#seen >= this.#o.parallelAfterBytes;
    if (this.#parallel) {
      this.#workers ??= new FrameWorkers(
        this.#o.threads,
        this.#o.cipher.batchState(this.#o.frameLength, true),
      );
      this.#cap = this.#full;
    } else {
      this.#cap = Math.min(this.#full, Math.max(16, this.#cap * 2));
    }
    this.#batchSeq += this.#frames;
    this.#batch = Buffer.allocUnsafeSlow(this.#cap * this.#stride);
    this.#frames = 0;
    this.#fill = 0;
    this.#opened = 0;
  }

  /**
   * Hashes, opens and releases frames `[opened, frames)` of the batch on this thread. Their plaintext
   * lands at the start of their region, below any byte still to be written, so it is pushed as a view.
   */
  #openHere(): void {
    const n = this.#frames - this.#opened;
    if (n <= 0) return;
    const stride = this.#stride;
    const fl = this.#o.frameLength;
    const region = (this.#batch as Buffer).subarray(this.#opened * stride, this.#frames * stride);
    this.#o.verifier?.update(region);
    const first = this.#batchSeq + this.#opened;
    const good = openFrames(cryptoFns, this.#state, region, first, n);
    this.#opened = this.#frames;
    if (good > 0) this.#o.push(region.subarray(0, good * fl));
    if (good < n) throw frameFailed(first + good);
  }

  /** The batch is full and more bytes follow: hash it here, open it on a worker (or here if they are busy). */
  #closeBatch(): void {
    if (!this.#parallel) return this.#openHere();
    const batch = this.#batch as Buffer;
    const first = this.#batchSeq;
    const count = this.#frames;
    this.#batch = undefined;
    this.#o.verifier?.update(batch);
    const w = this.#workers as FrameWorkers;
    if (w.inFlight < this.#o.threads * IN_FLIGHT_PER_THREAD) {
      this.#line.add(w.run('open', batch, first, count), { first, count });
    } else {
      const good = openFrames(cryptoFns, this.#state, batch, first, count);
      this.#line.add(Promise.resolve({ buf: batch, good }), { first, count });
    }
  }

  /** Takes body bytes; calls `done` when it can take more (after an error, with the error). */
  write(chunk: Buffer, done: (e?: Error) => void): void {
    this.#seen += chunk.length;
    this.#feed(chunk, 0, done);
  }

  #feed(chunk: Buffer, p: number, done: (e?: Error) => void): void {
    try {
      const stride = this.#stride;
      while (p < chunk.length && this.#tail === undefined) {
        if (this.#batch === undefined) this.#newBatch();
        else if (this.#frames === this.#cap && this.#fill === 0) {
          this.#closeBatch();
          this.#newBatch();
          const limit = this.#o.threads * IN_FLIGHT_PER_THREAD + 1;
          if (this.#line.size > 0 && this.#line.size >= limit) {
            const at = p;
            this.#line.whenBelow(limit, () => this.#feed(chunk, at, done));
            return;
          }
        }
        const batch = this.#batch as Buffer;
        const start = this.#frames * stride;
        const before = this.#fill;
        const n = Math.min(stride - before, chunk.length - p);
        chunk.copy(batch, start + before, p, p + n);
        p += n;
        this.#fill += n;
        if (before < 4 && this.#fill >= 4) {
          const seq = batch.readUInt32BE(start);
          if (seq === SEQUENCE_NUMBER_END) {
            // The final frame: it and the footer are handled at the end.
            this.#tail = [Buffer.from(batch.subarray(start, start + this.#fill))];
            this.#tailLength = this.#fill;
            this.#fill = 0;
            break;
          }
          //= aws-encryption-sdk-specification/client-apis/decrypt.md#decrypt-the-message-body
          //# Otherwise, this value MUST be 1 greater than the value of the sequence number of the previous frame.
          const expected = this.#batchSeq + this.#frames;
          if (seq !== expected)
            throw formatError(`body: frame sequence number ${seq}, expected ${expected}`);
        }
        if (this.#fill === stride) {
          this.#frames++;
          this.#fill = 0;
        }
      }
      if (this.#tail !== undefined && p < chunk.length) {
        this.#tail.push(chunk.subarray(p));
        this.#tailLength += chunk.length - p;
      }
      if (this.#tailLength > this.#maxTail)
        throw formatError('bytes follow the end of the message');
      if (!this.#parallel) this.#openHere();
      done();
    } catch (e) {
      this.#failed = true;
      done(e as Error);
    }
  }

  /** The input ended: waits for the batches in flight, then the final frame and the signature. */
  end(done: (e?: Error) => void): void {
    if (this.#failed) return done(formatError('message is truncated in the body'));
    this.#line.whenBelow(1, () => {
      try {
        this.#finish();
        done();
      } catch (e) {
        this.#failed = true;
        done(e as Error);
      }
    });
  }

  #finish(): void {
    if (this.#tail === undefined) throw formatError('message is truncated in the body');
    this.#openHere();
    const tail = this.#tail.length === 1 ? (this.#tail[0] as Buffer) : Buffer.concat(this.#tail);
    const f = parseFrame(tail, 0, this.#o.frameLength);
    if (!f) throw formatError('message is truncated in the body');
    const expected = this.#batchSeq + this.#frames;
    if (f.sequenceNumber !== expected)
      throw formatError(`body: frame sequence number ${f.sequenceNumber}, expected ${expected}`);
    const pt = this.#o.cipher.decrypt(1, f.sequenceNumber, f.iv, f.ciphertext, f.tag);
    let off = f.length;
    if (this.#o.verify) {
      this.#o.verifier?.update(tail.subarray(0, off));
      const footer = parseFooter(tail, off);
      if (!footer) {
        pt.fill(0);
        throw formatError('message is truncated in the footer');
      }
      //= aws-encryption-sdk-specification/client-apis/decrypt.md#decrypt-the-message-body
      //# Any plaintext decrypted from unframed data or a final frame MUST NOT be released until signature verification successfully completes.
      if (!this.#o.verify(footer.signature)) {
        pt.fill(0);
        throw badSignature();
      }
      off += footer.length;
    }
    if (off < tail.length) {
      pt.fill(0);
      throw formatError('bytes follow the end of the message');
    }
    if (pt.length > 0) this.#o.push(pt);
  }

  /**
   * Ends the workers and drops (zeroes) batches in flight. Idempotent. The current batch is left alone:
   * it holds ciphertext and plaintext already pushed, which belongs to the consumer now.
   */
  destroy(): void {
    this.#failed = true;
    this.#line.abandon();
    this.#workers?.close();
  }
}

function frameFailed(seq: number): Error {
  return decryptionError(`frame ${seq} authentication failed`);
}
