import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvalidOptionError, SteadyKmsError, needs } from '@steadykms/core';
import { openFrames, sealFrames, type FrameBatchState } from './FrameCipher.js';

/**
 * Bytes of frames per batch handed to a worker: big enough that posting a batch (a transfer, no copy) is
 * noise next to the AES-GCM work in it, small enough that a few batches in flight keep memory low.
 */
export const BATCH_BYTES = 1 << 20;

/** By default a stream turns its worker threads on once this many bytes went through it. */
export const PARALLEL_AFTER_BYTES = 4 << 20;

/** Regular frames per batch for a frame length: about {@link BATCH_BYTES} of frames, at least one. */
export function framesPerBatch(frameLength: number, ivLength = 12): number {
  return Math.max(1, Math.floor(BATCH_BYTES / (4 + ivLength + frameLength + 16)));
}

/** The `threads` and `parallelAfterBytes` stream options. */
export interface ParallelStreamOptions {
  /**
   * Extra worker threads that encrypt or decrypt frames in parallel, in batches of about 1 MiB of frames,
   * once the stream has passed `parallelAfterBytes`. `'auto'` is `os.availableParallelism() - 1` (the
   * calling thread takes a batch itself whenever the workers are busy, so it counts as one). `0` keeps
   * everything on the calling thread. Opt-in: on a 2-core machine the workers add about 20-30 MiB of
   * peak RSS (each is a V8 isolate) for a modest gain, because V8's garbage collector already uses the
   * second core in a serial stream; see the package README.
   * @defaultValue `0`
   */
  readonly threads?: number | 'auto';
  /**
   * Bytes a stream handles serially before its threads start (shorter streams never start one).
   * @defaultValue `4194304` (4 MiB)
   */
  readonly parallelAfterBytes?: number;
}

/** Resolves {@link ParallelStreamOptions}. */
export function resolveParallel(o: ParallelStreamOptions): { threads: number; after: number } {
  const t = o.threads ?? 0;
  const threads = t === 'auto' ? availableParallelism() - 1 : t;
  needs(
    Number.isInteger(threads) && threads >= 0 && threads <= 64,
    "threads must be 'auto' or an integer from 0 to 64",
  );
  const after = o.parallelAfterBytes ?? PARALLEL_AFTER_BYTES;
  needs(
    Number.isSafeInteger(after) && after >= 0,
    'parallelAfterBytes must be a non-negative integer',
  );
  return { threads, after };
}

/** A batch back from a worker: the frames' buffer, and how many frames succeeded (opening stops at a bad tag). */
export interface BatchResult {
  readonly buf: Buffer;
  readonly good: number;
}

interface WorkerInit {
  readonly cipher: string;
  readonly key: Uint8Array;
  readonly aad: Uint8Array;
  readonly ivLength: number;
  readonly frameLength: number;
}

interface BatchRequest {
  readonly t: 'seal' | 'open';
  readonly id: number;
  readonly buf: ArrayBuffer;
  readonly seq: number;
  readonly count: number;
}

interface BatchReply {
  readonly id: number;
  readonly buf: ArrayBuffer;
  readonly good: number;
}

/**
 * The worker's program. Self-contained (it runs from its source text with `eval`, so a bundled or
 * source-run package needs no separate worker file): it takes the batch functions as arguments.
 */
function workerMain(seal: typeof sealFrames, open: typeof openFrames): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const crypto = require('node:crypto') as typeof import('node:crypto');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const port = wt.parentPort as import('node:worker_threads').MessagePort;
  const init = wt.workerData as WorkerInit;
  const k = {
    cipher: init.cipher as FrameBatchState['cipher'],
    key: Buffer.from(init.key),
    aad: Buffer.from(init.aad),
    iv: Buffer.alloc(init.ivLength),
    frameLength: init.frameLength,
  };
  init.key.fill(0);
  port.on('message', (m: BatchRequest | { t: 'close' }) => {
    if (m.t === 'close') {
      k.key.fill(0);
      port.close();
      return;
    }
    const buf = Buffer.from(m.buf);
    let good = m.count;
    if (m.t === 'seal') seal(crypto, k, buf, m.seq, m.count);
    else good = open(crypto, k, buf, m.seq, m.count);
    const reply: BatchReply = { id: m.id, buf: m.buf, good };
    port.postMessage(reply, [m.buf]);
  });
}

const WORKER_SOURCE = `'use strict';
const sealFrames = ${sealFrames.toString()};
const openFrames = ${openFrames.toString()};
(${workerMain.toString()})(sealFrames, openFrames);
`;

let live = 0;

/** Worker threads of stream frame batches still running in this process (for tests and diagnostics). @internal */
export function liveFrameWorkers(): number {
  return live;
}

interface Pending {
  resolve(r: BatchResult): void;
  reject(e: Error): void;
  worker: number;
}

/**
 * Worker threads that seal or open batches of frames for one message. Each gets a copy of the content
 * key at start and zeroes it when closed; batches move by transfer (no copy). The threads are unref'd, so
 * they never keep the process alive, and {@link close} ends them (gracefully, so they zero their key,
 * with `terminate()` as a backstop).
 */
export class FrameWorkers {
  readonly #workers: Worker[] = [];
  readonly #load: number[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;
  #broken: Error | undefined;

  constructor(threads: number, state: FrameBatchState) {
    needs(threads >= 1, 'FrameWorkers: at least one thread');
    for (let i = 0; i < threads; i++) {
      const key = Buffer.from(state.key);
      const init: WorkerInit = {
        cipher: state.cipher,
        key,
        aad: state.aad,
        ivLength: state.iv.length,
        frameLength: state.frameLength,
      };
      let w: Worker;
      try {
        // workerData is cloned synchronously: the copy here can be zeroed at once.
        w = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: init,
          execArgv: [],
          // A small young generation: the worker's garbage is one 4 KiB output per frame, and a small
          // nursery frees it every couple of megabytes instead of letting tens of megabytes pile up
          // (measured: about 20 MiB less peak RSS, same throughput).
          resourceLimits: { maxYoungGenerationSizeMb: 2 },
        });
      } finally {
        key.fill(0);
      }
      live++;
      w.unref();
      w.on('message', (r: BatchReply) => this.#settle(r));
      w.on('error', (e) => this.#fail(workerError('a frame worker failed', e)));
      w.once('exit', () => {
        live--;
        if (!this.#closed) this.#fail(workerError('a frame worker exited'));
      });
      this.#workers.push(w);
      this.#load.push(0);
    }
  }

  /** Batches posted and not yet back. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Seals or opens `count` frames of `buf` on the least busy worker. `buf` must span its whole
   * `ArrayBuffer` (it is transferred, and unusable here until the promise resolves).
   */
  run(op: 'seal' | 'open', buf: Buffer, firstSeq: number, count: number): Promise<BatchResult> {
    if (this.#closed) return Promise.reject(new InvalidOptionError('FrameWorkers: closed'));
    if (this.#broken) return Promise.reject(this.#broken);
    needs(
      buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength,
      'FrameWorkers: a batch must own its ArrayBuffer',
    );
    let best = 0;
    for (let i = 1; i < this.#workers.length; i++)
      if ((this.#load[i] as number) < (this.#load[best] as number)) best = i;
    const id = this.#nextId++;
    const ab = buf.buffer as ArrayBuffer;
    const req: BatchRequest = { t: op, id, buf: ab, seq: firstSeq, count };
    return new Promise<BatchResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker: best });
      this.#load[best] = (this.#load[best] as number) + 1;
      (this.#workers[best] as Worker).postMessage(req, [ab]);
    });
  }

  #settle(r: BatchReply): void {
    const p = this.#pending.get(r.id);
    const buf = Buffer.from(r.buf);
    if (!p) {
      buf.fill(0);
      return;
    }
    this.#pending.delete(r.id);
    this.#load[p.worker] = (this.#load[p.worker] as number) - 1;
    p.resolve({ buf, good: r.good });
  }

  #fail(e: Error): void {
    this.#broken ??= e;
    for (const p of this.#pending.values()) p.reject(this.#broken);
    this.#pending.clear();
    this.close();
  }

  /**
   * Ends the workers: each zeroes its key copy and exits; any still running after a second is
   * terminated. Batches still in flight are dropped (and zeroed when they come back). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(workerError('the stream ended'));
    this.#pending.clear();
    for (const w of this.#workers) {
      w.postMessage({ t: 'close' });
      const t = setTimeout(() => void w.terminate(), 1000);
      t.unref();
      w.once('exit', () => clearTimeout(t));
    }
  }
}

/** A frame worker thread failed or exited early (not a problem with the message). */
function workerError(message: string, cause?: unknown): SteadyKmsError {
  return new SteadyKmsError('INTERNAL', message, cause === undefined ? undefined : { cause });
}

interface Slot<T> {
  readonly meta: T;
  result: BatchResult | undefined;
  error: Error | undefined;
}

/**
 * Batches in flight, handed back strictly in the order they were added whatever order the workers finish
 * in. `onResult` runs for each in order; the first failure goes to `onError` and every later result is
 * zeroed and dropped. `whenBelow` is the backpressure: it runs its callback once fewer than `limit`
 * batches are in flight (at once if already so).
 */
export class OrderedBatches<T> {
  readonly #q: Array<Slot<T>> = [];
  readonly #onResult: (r: BatchResult, meta: T) => void;
  readonly #onError: (e: Error) => void;
  #waiter: { limit: number; fn: () => void } | undefined;
  #failed = false;

  constructor(onResult: (r: BatchResult, meta: T) => void, onError: (e: Error) => void) {
    this.#onResult = onResult;
    this.#onError = onError;
  }

  get size(): number {
    return this.#q.length;
  }

  add(p: Promise<BatchResult>, meta: T): void {
    const slot: Slot<T> = { meta, result: undefined, error: undefined };
    this.#q.push(slot);
    p.then(
      (r) => {
        if (this.#failed) r.buf.fill(0);
        else slot.result = r;
        this.#pump();
      },
      (e: unknown) => {
        slot.error = e as Error;
        this.#pump();
      },
    );
  }

  whenBelow(limit: number, fn: () => void): void {
    if (this.#failed) return;
    if (this.#q.length < limit) fn();
    else this.#waiter = { limit, fn };
  }

  /** Stops releasing: later results are zeroed and dropped. */
  abandon(): void {
    this.#failed = true;
    this.#waiter = undefined;
    for (const s of this.#q) s.result?.buf.fill(0);
    this.#q.length = 0;
  }

  #pump(): void {
    while (!this.#failed && this.#q.length > 0) {
      const head = this.#q[0] as Slot<T>;
      if (head.error) {
        this.abandon();
        this.#onError(head.error);
        return;
      }
      if (!head.result) break;
      this.#q.shift();
      try {
        this.#onResult(head.result, head.meta);
      } catch (e) {
        this.abandon();
        this.#onError(e as Error);
        return;
      }
    }
    const w = this.#waiter;
    if (w && this.#q.length < w.limit) {
      this.#waiter = undefined;
      w.fn();
    }
  }
}
