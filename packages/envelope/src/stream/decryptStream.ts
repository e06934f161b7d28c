import { createVerify, type Verify } from 'node:crypto';
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import { parseHeader, type MessageHeader } from '../format/header.js';
import { parseFooter, parseFrame, parseNonFramedBody } from '../format/body.js';
import type { EncryptionContext } from '../format/encryptionContext.js';
import { formatError } from '../errors.js';
import {
  DecryptSession,
  badSignature,
  resolveDecrypt,
  type DecryptOptionsBase,
  type ResolvedDecrypt,
} from '../internal/DecryptSession.js';
import { wrapUnexpected } from '../decrypt.js';
import { resolveParallel, type ParallelStreamOptions } from '../internal/parallelFrames.js';
import { FramedBodyReader } from './streamFramedBody.js';

/** Options of {@link decryptStream}. */
export interface DecryptStreamOptions extends DecryptOptionsBase, ParallelStreamOptions {
  /** Aborts the stream (it is destroyed with an `AbortError`). */
  readonly signal?: AbortSignal;
}

/** Header information a {@link DecryptTransform} emits as `'header'` once the header authenticates. */
export interface DecryptedHeaderInfo {
  readonly encryptionContext: EncryptionContext;
  readonly suiteId: number;
  readonly messageHeader: MessageHeader;
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Length of the frame starting at `b[0]`, when enough of it is there to tell. */
function nextFrameLength(b: Buffer, frameLength: number): number | undefined {
  if (b.length < 4) return undefined;
  if (b.readUInt32BE(0) !== 0xffffffff) return 4 + 12 + frameLength + 16;
  if (b.length < 24) return undefined;
  return 24 + b.readUInt32BE(20) + 16;
}

/**
 * Streaming decrypt. A frame's plaintext is pushed only after its tag verifies; for signed suites the
 * final frame (or a non-framed body) is held back until the signature verifies, so a consumer that reads
 * to the end never sees plaintext from a message whose signature is bad. Emits `'header'` with
 * {@link DecryptedHeaderInfo} after the header authenticates.
 */
export class DecryptTransform extends Transform {
  readonly #o: ResolvedDecrypt;
  readonly #parallel: { threads: number; after: number };
  #reader: FramedBodyReader | undefined;
  #buf: Buffer = EMPTY;
  #s: DecryptSession | undefined;
  #verifier: Verify | undefined;
  #held: Buffer | undefined;
  #state: 'header' | 'body' | 'footer' | 'done' = 'header';
  /** The verified header, once available. */
  header: DecryptedHeaderInfo | undefined;

  constructor(options: DecryptStreamOptions) {
    super(options.signal ? { signal: options.signal } : {});
    this.#o = resolveDecrypt(options);
    this.#parallel = resolveParallel(options);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.#reader) {
      this.#reader.write(chunk, (e) => callback(e ? (wrapUnexpected(e) as Error) : null));
      return;
    }
    if (this.#state !== 'header') {
      try {
        this.#append(chunk);
        this.#consume();
        callback();
      } catch (e) {
        callback(wrapUnexpected(e) as Error);
      }
      return;
    }
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let parsed;
    try {
      parsed = parseHeader(this.#buf, 0, this.#o.maxEdks);
    } catch (e) {
      return callback(e as Error);
    }
    if (!parsed) return callback();
    const p = parsed;
    DecryptSession.start(p, this.#o).then(
      (s) => {
        this.#s = s;
        const sig = s.header.suite.signature;
        if (sig) {
          this.#verifier = createVerify(sig.hash);
          this.#verifier.update(this.#buf.subarray(0, p.length));
        }
        this.#buf = this.#buf.subarray(p.length);
        this.#state = 'body';
        this.header = {
          encryptionContext: s.encryptionContext,
          suiteId: s.header.suite.id,
          messageHeader: s.header,
        };
        this.emit('header', this.header);
        const fl = s.header.frameLength;
        if (s.header.contentType === 2 && FramedBodyReader.suits(fl)) {
          const verifier = this.#verifier;
          this.#reader = new FramedBodyReader({
            cipher: s.frames,
            frameLength: fl,
            verifier,
            verify: verifier
              ? (signature) =>
                  s.verificationKey !== undefined &&
                  verifier.verify({ key: s.verificationKey, dsaEncoding: 'der' }, signature)
              : undefined,
            threads: this.#parallel.threads,
            parallelAfterBytes: this.#parallel.after,
            push: (b) => this.push(b),
            fail: (e) => this.destroy(wrapUnexpected(e) as Error),
          });
          const rest = this.#buf;
          this.#buf = EMPTY;
          this.#reader.write(rest, (e) => callback(e ? (wrapUnexpected(e) as Error) : null));
          return;
        }
        this.#drain(callback);
      },
      (e: unknown) => callback(wrapUnexpected(e) as Error),
    );
  }

  /**
   * Adds a chunk to the unconsumed bytes. When the bytes left over from the last chunk are the start of a
   * frame whose length is known, only the rest of that frame is copied (and the frame consumed), and the
   * remainder of the chunk is kept as a slice: one frame copied per chunk instead of the whole chunk.
   */
  #append(chunk: Buffer): void {
    const left = this.#buf;
    if (left.length === 0) {
      this.#buf = chunk;
      return;
    }
    const s = this.#s as DecryptSession;
    const need =
      this.#state === 'body' && s.header.contentType === 2
        ? nextFrameLength(left, s.header.frameLength)
        : undefined;
    if (need !== undefined && need > left.length && left.length + chunk.length >= need) {
      const cut = need - left.length;
      this.#buf = Buffer.concat([left, chunk.subarray(0, cut)]);
      this.#consume();
      this.#buf =
        this.#buf.length === 0
          ? chunk.subarray(cut)
          : Buffer.concat([this.#buf, chunk.subarray(cut)]);
      return;
    }
    this.#buf = Buffer.concat([left, chunk]);
  }

  #drain(callback: TransformCallback): void {
    try {
      this.#consume();
      callback();
    } catch (e) {
      callback(wrapUnexpected(e) as Error);
    }
  }

  #consume(): void {
    const s = this.#s as DecryptSession;
    const buf = this.#buf;
    let off = 0;
    const signed = s.header.suite.signature !== undefined;
    // Frames consumed in this call are hashed in one update rather than one per frame.
    const bodyStart = off;
    while (this.#state === 'body') {
      const f =
        s.header.contentType === 2
          ? parseFrame(buf, off, s.header.frameLength)
          : parseNonFramedBody(buf, off);
      if (!f) break;
      const pt = s.decryptFrame(f);
      off += f.length;
      if (f.final) {
        //= aws-encryption-sdk-specification/client-apis/decrypt.md#decrypt-the-message-body
        //# Any plaintext decrypted from unframed data or a final frame MUST NOT be released until signature verification successfully completes.
        if (signed) {
          this.#held = pt;
          this.#state = 'footer';
        } else {
          if (pt.length > 0) this.push(pt);
          this.#state = 'done';
        }
      } else if (pt.length > 0) {
        this.push(pt);
      }
    }
    if (off > bodyStart) this.#verifier?.update(buf.subarray(bodyStart, off));
    if (this.#state === 'footer') {
      const footer = parseFooter(buf, off);
      if (footer) {
        const sig = s.header.suite.signature;
        if (!sig || !s.verificationKey || !this.#verifier) throw badSignature();
        if (
          !this.#verifier.verify({ key: s.verificationKey, dsaEncoding: 'der' }, footer.signature)
        )
          throw badSignature();
        off += footer.length;
        this.#state = 'done';
        const held = this.#held as Buffer;
        this.#held = undefined;
        if (held.length > 0) this.push(held);
      }
    }
    if (this.#state === 'done' && off < buf.length)
      throw formatError('bytes follow the end of the message');
    this.#buf = off === buf.length ? EMPTY : buf.subarray(off);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#reader) {
      this.#reader.end((e) => {
        if (e) return callback(wrapUnexpected(e) as Error);
        this.#state = 'done';
        this.#s?.destroy();
        callback();
      });
      return;
    }
    if (this.#state !== 'done') {
      return callback(formatError(`message is truncated in the ${this.#state}`));
    }
    this.#s?.destroy();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#reader?.destroy();
    this.#s?.destroy();
    this.#held?.fill(0);
    this.#held = undefined;
    callback(error);
  }
}

/** A `node:stream` Transform: an AWS Encryption SDK message in, plaintext out. See {@link DecryptTransform}. */
export function decryptStream(options: DecryptStreamOptions): DecryptTransform {
  return new DecryptTransform(options);
}

/** The same as {@link decryptStream}, as a web `TransformStream`-shaped pair. */
export function decryptWebStream(options: DecryptStreamOptions): {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
} {
  return Duplex.toWeb(new DecryptTransform(options));
}
