import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import {
  InvalidOptionError,
  SteadyKmsError,
  needs,
  type SteadyKmsErrorCode,
} from '@steadykms/core';
import { DecryptionError, MessageFormatError } from '../errors.js';
import type { EncryptionContext } from '../format/encryptionContext.js';
import type { EncryptResult } from '../encrypt.js';
import type { DecryptResult } from '../decrypt.js';
import type { ParsedHeader } from '../format/header.js';
import type { DecryptionMaterialsResult } from '../materials/DefaultMaterialsManager.js';
import type { PreparedEncrypt } from './EncryptSession.js';

/** @internal */
export type WorkerRequest =
  | {
      readonly kind: 'encrypt';
      readonly id: number;
      readonly suiteId: number;
      readonly plaintext: Uint8Array;
      readonly dataKey: Uint8Array;
      readonly encryptionContext: EncryptionContext;
      readonly requiredEncryptionContextKeys: readonly string[];
      readonly encryptedDataKeys: ReadonlyArray<{
        providerId: string;
        providerInfo: Uint8Array;
        encryptedDataKey: Uint8Array;
      }>;
      /** Index of the signing key in the worker's key table (see {@link WorkerBatch}), or -1. */
      readonly signingKeyId: number;
      readonly frameLength: number;
      readonly maxEdks: number;
    }
  | {
      readonly kind: 'decrypt';
      readonly id: number;
      readonly suiteId: number;
      readonly ciphertext: Uint8Array;
      readonly dataKey: Uint8Array;
      readonly encryptionContext: EncryptionContext;
      readonly requiredEncryptionContextKeys: readonly string[];
      readonly verificationKey: KeyObject | undefined;
    };

/**
 * One message to a worker: requests made in the same turn of the event loop travel together (one
 * `postMessage`, one wake-up of the worker, instead of one per item). A signing key is cloned to a worker
 * once, with the first request that needs it, and then named by its index in the worker's key table;
 * `forget` lists indexes the worker drops first (the table is bounded).
 * @internal
 */
export interface WorkerBatch {
  readonly keys: ReadonlyArray<{ readonly id: number; readonly key: KeyObject }>;
  readonly forget: readonly number[];
  readonly requests: readonly WorkerRequest[];
}

/** @internal */
export type WorkerResponse =
  | {
      readonly id: number;
      readonly ok: true;
      readonly bytes: Uint8Array;
      readonly messageId: Uint8Array;
    }
  | {
      readonly id: number;
      readonly ok: false;
      readonly name: string;
      readonly message: string;
      readonly code: SteadyKmsErrorCode | undefined;
    };

/** Options of {@link EncryptionWorkerPool}. */
export interface EncryptionWorkerPoolOptions {
  /** Worker threads. @defaultValue `os.availableParallelism()` */
  readonly size?: number;
}

interface Pending {
  resolve(bytes: Uint8Array, messageId: Uint8Array): void;
  reject(e: Error): void;
}

function workerFile(): URL {
  const here = new URL('./cryptoWorker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  // Running from TypeScript source (tests): use the built worker.
  return new URL('../../dist/internal/cryptoWorker.js', import.meta.url);
}

/** Requests per `postMessage` at most: a bigger batch only delays the first result of the next one. */
const MAX_BATCH = 32;
/** Signing keys a worker keeps (the caching manager hands out one key for many messages). */
const MAX_KEYS = 16;

/** One worker thread and what is queued for it. */
interface Lane {
  readonly worker: Worker;
  /** Requests posted or queued and not yet answered. */
  load: number;
  /** Requests queued this turn, and the data keys to wipe once they are posted. */
  outbox: WorkerRequest[];
  dataKeys: Buffer[];
  /** Signing keys to send with the next batch, and key table indexes the worker may drop after it. */
  newKeys: Array<{ id: number; key: KeyObject }>;
  forget: number[];
  /** Signing keys the worker holds, oldest first. */
  readonly keyIds: Map<KeyObject, number>;
  scheduled: boolean;
}

/**
 * Worker threads for the CPU-bound half of `encryptMany` and `decryptMany`, worth it for the signing suite
 * (0x0578), where ECDSA P-384 dominates: the calling thread parses headers and gets the materials (keyring
 * and KMS calls, the caching manager); the workers derive keys, write or check frames and sign or verify.
 * The data key is copied to the worker (the worker zeroes its copy; the calling thread zeroes its own as
 * soon as it is posted).
 *
 * Requests made in one turn of the event loop go to a worker in one message (up to 32), and its results
 * come back a few at a time: the per-message cost of `postMessage` and of waking a thread is paid once
 * per batch instead of once per item. A signing key is sent to a worker once and then named by an index,
 * so the key shared by the messages of a cached data key is not cloned for each of them.
 */
export class EncryptionWorkerPool {
  readonly size: number;
  readonly #lanes: Lane[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #nextKeyId = 0;
  #closed = false;
  #broken: Error | undefined;

  constructor(options: EncryptionWorkerPoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    needs(
      Number.isInteger(size) && size >= 1,
      'EncryptionWorkerPool: size must be a positive integer',
    );
    this.size = size;
    const file = workerFile();
    needs(
      existsSync(fileURLToPath(file)),
      'EncryptionWorkerPool: the built worker (dist/internal/cryptoWorker.js) is missing; run the build',
    );
    for (let i = 0; i < size; i++) {
      // No inherited execArgv: the worker loads the built JavaScript whatever loader flags the parent has.
      const w = new Worker(file, { execArgv: [] });
      w.unref();
      const lane: Lane = {
        worker: w,
        load: 0,
        outbox: [],
        dataKeys: [],
        newKeys: [],
        forget: [],
        keyIds: new Map(),
        scheduled: false,
      };
      w.on('message', (rs: readonly WorkerResponse[]) => {
        for (const r of rs) this.#settle(lane, r);
      });
      w.on('error', (e) => {
        this.#broken = e;
        this.#failAll(e);
      });
      w.on('exit', () => {
        this.#broken ??= new Error('EncryptionWorkerPool: a worker exited');
        this.#failAll(this.#broken);
      });
      this.#lanes.push(lane);
    }
  }

  /** Encrypts `plaintext` with prepared materials on the least busy worker. @internal */
  encrypt(plaintext: Buffer, prepared: PreparedEncrypt): Promise<EncryptResult> {
    const m = prepared.materials;
    return this.#run(
      (id, lane) => ({
        kind: 'encrypt',
        id,
        suiteId: m.suite.id,
        plaintext,
        dataKey: m.plaintextDataKey,
        encryptionContext: m.encryptionContext,
        requiredEncryptionContextKeys: m.requiredEncryptionContextKeys,
        encryptedDataKeys: m.encryptedDataKeys,
        signingKeyId: m.signingKey ? this.#keyId(lane, m.signingKey) : -1,
        frameLength: prepared.frameLength,
        maxEdks: prepared.maxEdks,
      }),
      m.plaintextDataKey,
      (bytes, messageId) => ({
        ciphertext: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        encryptionContext: m.encryptionContext,
        suiteId: m.suite.id,
        messageId: Buffer.from(messageId),
      }),
    );
  }

  /** Decrypts a whole message whose header was parsed and materials obtained here. @internal */
  decrypt(
    ciphertext: Buffer,
    parsed: ParsedHeader,
    m: DecryptionMaterialsResult,
  ): Promise<DecryptResult> {
    return this.#run(
      (id) => ({
        kind: 'decrypt',
        id,
        suiteId: m.suite.id,
        ciphertext,
        dataKey: m.plaintextDataKey,
        encryptionContext: m.encryptionContext,
        requiredEncryptionContextKeys: m.requiredEncryptionContextKeys,
        verificationKey: m.verificationKey,
      }),
      m.plaintextDataKey,
      (bytes) => ({
        plaintext: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        encryptionContext: m.encryptionContext,
        suiteId: m.suite.id,
        messageHeader: parsed.header,
      }),
    );
  }

  /** The index of `key` in the worker's key table, queueing the key when the worker does not hold it. */
  #keyId(lane: Lane, key: KeyObject): number {
    const known = lane.keyIds.get(key);
    if (known !== undefined) return known;
    const id = this.#nextKeyId++;
    lane.keyIds.set(key, id);
    lane.newKeys.push({ id, key });
    if (lane.keyIds.size > MAX_KEYS) {
      // The oldest key; the worker drops it after the batch (requests already queued may still use it).
      const [oldKey, oldId] = lane.keyIds.entries().next().value as [KeyObject, number];
      lane.keyIds.delete(oldKey);
      lane.forget.push(oldId);
    }
    return id;
  }

  #run<R>(
    make: (id: number, lane: Lane) => WorkerRequest,
    dataKey: Buffer,
    done: (bytes: Uint8Array, messageId: Uint8Array) => R,
  ): Promise<R> {
    if (this.#closed) {
      dataKey.fill(0);
      return Promise.reject(new InvalidOptionError('EncryptionWorkerPool is closed'));
    }
    if (this.#broken) {
      dataKey.fill(0);
      return Promise.reject(this.#broken);
    }
    let lane = this.#lanes[0] as Lane;
    for (const l of this.#lanes) if (l.load < lane.load) lane = l;
    const req = make(this.#nextId++, lane);
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(req.id, { resolve: (b, id) => resolve(done(b, id)), reject });
      if (lane.load === 0) lane.worker.ref();
      lane.load++;
      lane.outbox.push(req);
      lane.dataKeys.push(dataKey);
      if (lane.outbox.length >= MAX_BATCH) this.#flush(lane);
      else if (!lane.scheduled) {
        lane.scheduled = true;
        // After the microtasks of this turn: every item started in it joins the batch.
        process.nextTick(() => this.#flush(lane));
      }
    });
  }

  #flush(lane: Lane): void {
    lane.scheduled = false;
    if (lane.outbox.length === 0) return;
    const batch: WorkerBatch = { keys: lane.newKeys, forget: lane.forget, requests: lane.outbox };
    const dataKeys = lane.dataKeys;
    lane.outbox = [];
    lane.dataKeys = [];
    lane.newKeys = [];
    lane.forget = [];
    try {
      lane.worker.postMessage(batch);
    } catch (e) {
      // Not posted (a value that cannot be cloned): these requests fail, and the worker never saw the
      // keys it was about to be given.
      for (const k of batch.keys) if (lane.keyIds.get(k.key) === k.id) lane.keyIds.delete(k.key);
      const err = e instanceof Error ? e : new Error(String(e));
      for (const r of batch.requests)
        this.#settle(lane, { id: r.id, ok: false, ...errorFields(err) });
    } finally {
      // The worker has its own copies (structured clone); this thread's are wiped now.
      for (const k of dataKeys) k.fill(0);
    }
  }

  #settle(lane: Lane, r: WorkerResponse): void {
    const p = this.#pending.get(r.id);
    lane.load--;
    if (lane.load === 0) lane.worker.unref();
    if (!p) return;
    this.#pending.delete(r.id);
    if (r.ok) {
      p.resolve(r.bytes, r.messageId);
    } else {
      p.reject(rebuild(r.code, r.name, r.message));
    }
  }

  #failAll(e: Error): void {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
    for (const lane of this.#lanes) {
      for (const k of lane.dataKeys) k.fill(0);
      lane.dataKeys = [];
      lane.outbox = [];
    }
  }

  /** Terminates the workers; pending encryptions reject. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(new InvalidOptionError('EncryptionWorkerPool closed'));
    await Promise.all(this.#lanes.map((l) => l.worker.terminate()));
  }
}

/** The fields of a failed {@link WorkerResponse} for an error. @internal */
export function errorFields(e: unknown): {
  name: string;
  message: string;
  code: SteadyKmsErrorCode | undefined;
} {
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    name: err.name,
    message: err.message,
    code: SteadyKmsError.is(e) ? e.code : undefined,
  };
}

function rebuild(code: SteadyKmsErrorCode | undefined, name: string, message: string): Error {
  if (code === 'MESSAGE_FORMAT') return new MessageFormatError(message);
  if (code === 'DECRYPTION_FAILED') return new DecryptionError(message);
  if (code === 'INVALID_OPTION') return new InvalidOptionError(message);
  if (code !== undefined) return new SteadyKmsError(code, message);
  const e = new Error(message);
  e.name = name;
  return e;
}
