import { needs } from '@steadykms/core';
import { encrypt, type EncryptOptions } from './encrypt.js';
import { prepareEncrypt } from './internal/EncryptSession.js';
import { toBytes } from './internal/options.js';
import type { EncryptionWorkerPool } from './internal/WorkerPool.js';
import { decrypt, wrapUnexpected, type DecryptOptions, type DecryptResult } from './decrypt.js';
import { DecryptSession, resolveDecrypt } from './internal/DecryptSession.js';
import { parseHeader } from './format/header.js';
import { formatError } from './errors.js';
import type { EncryptionContext } from './format/encryptionContext.js';

/** One item of a batch: bytes or a string, or an object with its own encryption context and an id. */
export type BatchItem<T extends Uint8Array | string> =
  | T
  | {
      readonly id?: string | number;
      readonly data: T;
      readonly encryptionContext?: EncryptionContext;
    };

/** Progress counters passed to `onProgress` after each item settles. */
export interface BatchProgress {
  readonly started: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly inFlight: number;
}

/** Options of the batch APIs. */
export interface BatchOptions {
  /** Items processed at once. @defaultValue 16 */
  readonly concurrency?: number;
  /** `true`: results in input order; `false`: as they complete. @defaultValue true */
  readonly ordered?: boolean;
  /** Stops taking new items; items in flight finish and are reported, then the iterator ends. */
  readonly signal?: AbortSignal;
  /** Called after every item settles; exceptions it throws are ignored. */
  readonly onProgress?: (progress: BatchProgress) => void;
}

/** One outcome: never thrown, so one bad item never stops the batch. */
export type BatchResult<V> =
  | {
      readonly index: number;
      readonly id: string | number | undefined;
      readonly ok: true;
      readonly value: V;
    }
  | {
      readonly index: number;
      readonly id: string | number | undefined;
      readonly ok: false;
      readonly error: unknown;
    };

/**
 * Runs `work` over `items` with bounded concurrency. Reads the input lazily (at most `concurrency` items
 * ahead), so an unbounded async iterable works in bounded memory.
 * @internal
 */
async function* runBatch<I, V>(
  items: AsyncIterable<I> | Iterable<I>,
  options: BatchOptions,
  work: (item: I) => Promise<V>,
  idOf: (item: I) => string | number | undefined,
): AsyncGenerator<BatchResult<V>> {
  const concurrency = options.concurrency ?? 16;
  needs(
    Number.isInteger(concurrency) && concurrency >= 1,
    'concurrency must be a positive integer',
  );
  const ordered = options.ordered ?? true;
  const it =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  let index = 0;
  let exhausted = false;
  let started = 0;
  let succeeded = 0;
  let failed = 0;
  let inFlight = 0;
  // Settled results not yet yielded, in settle order (Map keeps insertion order).
  const settled = new Map<number, BatchResult<V>>();
  let nextToYield = 0;
  let wake: (() => void) | undefined;
  const progress = (): void => {
    try {
      options.onProgress?.({ started, succeeded, failed, inFlight });
    } catch {
      // A progress callback cannot break the batch.
    }
  };

  const fill = async (): Promise<void> => {
    // Ordered output buffers results behind a slow item: count them against the bound too.
    while (!exhausted && inFlight + settled.size < concurrency && !options.signal?.aborted) {
      const r = await it.next();
      if (r.done) {
        exhausted = true;
        break;
      }
      const i = index++;
      const item = r.value;
      const id = idOf(item);
      started++;
      inFlight++;
      void (async (): Promise<BatchResult<V>> => {
        try {
          const value = await work(item);
          succeeded++;
          return { index: i, id, ok: true, value };
        } catch (error) {
          failed++;
          return { index: i, id, ok: false, error };
        }
      })().then((res) => {
        inFlight--;
        settled.set(i, res);
        progress();
        wake?.();
      });
    }
  };

  try {
    for (;;) {
      await fill();
      let next: BatchResult<V> | undefined;
      if (ordered) next = settled.get(nextToYield);
      else next = settled.values().next().value;
      if (next) {
        settled.delete(next.index);
        if (ordered) nextToYield++;
        yield next;
        continue;
      }
      if (inFlight === 0) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    if (!exhausted && typeof it.return === 'function') await it.return();
  }
}

function unpack<T extends Uint8Array | string>(
  item: BatchItem<T>,
): { data: T; ctx: EncryptionContext | undefined } {
  if (typeof item === 'string' || item instanceof Uint8Array) return { data: item, ctx: undefined };
  return { data: item.data, ctx: item.encryptionContext };
}
const idOf = (item: BatchItem<Uint8Array | string>): string | number | undefined =>
  typeof item === 'string' || item instanceof Uint8Array ? undefined : item.id;

/**
 * Encrypts many items. An item's own `encryptionContext` replaces the shared one. Pair it with a
 * {@link CachingMaterialsManager} so one data key serves many items instead of one KMS call each.
 *
 * @example
 * ```ts
 * for await (const r of encryptMany(rows, { keyring, concurrency: 32 })) {
 *   if (r.ok) save(r.id, r.value.ciphertext); else log(r.index, r.error);
 * }
 * ```
 */
export function encryptMany(
  items: AsyncIterable<BatchItem<Uint8Array | string>> | Iterable<BatchItem<Uint8Array | string>>,
  options: EncryptOptions &
    BatchOptions & {
      /**
       * Worker threads for the CPU-bound half of each message (worth it for the signing suite 0x0578):
       * keyring and KMS calls stay on this thread. @defaultValue none (everything on this thread)
       */
      readonly workers?: EncryptionWorkerPool;
    },
): AsyncGenerator<BatchResult<Awaited<ReturnType<typeof encrypt>>>> {
  const pool = options.workers;
  return runBatch(
    items,
    options,
    async (item) => {
      const { data, ctx } = unpack(item);
      const o = ctx ? { ...options, encryptionContext: ctx } : options;
      if (!pool) return encrypt(data, o);
      const pt = toBytes(data, 'utf8');
      const prepared = await prepareEncrypt(o, pt.length);
      return pool.encrypt(pt, prepared);
    },
    idOf,
  );
}

/** Decrypts many messages; see {@link encryptMany}. An item's `encryptionContext` is its expected context. */
export function decryptMany(
  items: AsyncIterable<BatchItem<Uint8Array>> | Iterable<BatchItem<Uint8Array>>,
  options: DecryptOptions &
    BatchOptions & {
      /**
       * Worker threads for the CPU-bound half of each message (worth it for the signing suites): headers
       * are parsed and keyrings called on this thread. @defaultValue none (everything on this thread)
       */
      readonly workers?: EncryptionWorkerPool;
    },
): AsyncGenerator<BatchResult<DecryptResult>> {
  const pool = options.workers;
  return runBatch(
    items,
    options,
    async (item) => {
      const { data, ctx } = unpack(item);
      const o = ctx ? { ...options, encryptionContext: ctx } : options;
      if (!pool) return decrypt(data, o);
      const r = resolveDecrypt(o);
      const buf = toBytes(data, 'base64');
      const parsed = parseHeader(buf, 0, r.maxEdks);
      if (!parsed) throw formatError('message is truncated in the header');
      const m = await DecryptSession.materials(parsed, r).catch((e: unknown) => {
        throw wrapUnexpected(e);
      });
      return pool.decrypt(buf, parsed, m);
    },
    idOf,
  );
}
