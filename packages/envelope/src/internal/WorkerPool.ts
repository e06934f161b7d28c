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
      readonly signingKey: KeyObject | undefined;
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

/**
 * Worker threads for the CPU-bound half of `encryptMany` and `decryptMany`, worth it for the signing suite
 * (0x0578), where ECDSA P-384 dominates: the calling thread parses headers and gets the materials (keyring
 * and KMS calls, the caching manager); the workers derive keys, write or check frames and sign or verify.
 * The data key is copied to the worker (the worker zeroes its copy; the calling thread zeroes its own).
 */
export class EncryptionWorkerPool {
  readonly size: number;
  readonly #workers: Worker[] = [];
  readonly #load: number[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
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
      w.on('message', (r: WorkerResponse) => this.#settle(i, r));
      w.on('error', (e) => {
        this.#broken = e;
        this.#failAll(e);
      });
      w.on('exit', () => {
        this.#broken ??= new Error('EncryptionWorkerPool: a worker exited');
        this.#failAll(this.#broken);
      });
      this.#workers.push(w);
      this.#load.push(0);
    }
  }

  /** Encrypts `plaintext` with prepared materials on the least busy worker. @internal */
  encrypt(plaintext: Buffer, prepared: PreparedEncrypt): Promise<EncryptResult> {
    const m = prepared.materials;
    return this.#run(
      (id) => ({
        kind: 'encrypt',
        id,
        suiteId: m.suite.id,
        plaintext,
        dataKey: m.plaintextDataKey,
        encryptionContext: m.encryptionContext,
        requiredEncryptionContextKeys: m.requiredEncryptionContextKeys,
        encryptedDataKeys: m.encryptedDataKeys,
        signingKey: m.signingKey,
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

  #run<R>(
    make: (id: number) => WorkerRequest,
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
    let best = 0;
    for (let i = 1; i < this.size; i++)
      if ((this.#load[i] as number) < (this.#load[best] as number)) best = i;
    const req = make(this.#nextId++);
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(req.id, { resolve: (b, id) => resolve(done(b, id)), reject });
      const w = this.#workers[best] as Worker;
      if ((this.#load[best] as number) === 0) w.ref();
      this.#load[best] = (this.#load[best] as number) + 1;
      try {
        w.postMessage(req);
      } finally {
        // The worker has its own copy (structured clone); this thread's copy is wiped now.
        dataKey.fill(0);
      }
    });
  }

  #settle(worker: number, r: WorkerResponse): void {
    const p = this.#pending.get(r.id);
    this.#load[worker] = (this.#load[worker] as number) - 1;
    if (this.#load[worker] === 0) this.#workers[worker]?.unref();
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
  }

  /** Terminates the workers; pending encryptions reject. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(new InvalidOptionError('EncryptionWorkerPool closed'));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
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
