// Worker-thread entry of EncryptionWorkerPool: runs the CPU-bound half of encrypt (key derivation, framing,
// ECDSA signing) or decrypt (key derivation, tags, signature verification) on materials the calling thread
// already obtained from its keyring.
import { parentPort } from 'node:worker_threads';
import { encryptPrepared } from '../encrypt.js';
import { decryptParsed } from '../decrypt.js';
import { parseHeader } from '../format/header.js';
import { getSuite } from '../suites.js';
import { formatError } from '../errors.js';
import {
  errorFields,
  type WorkerBatch,
  type WorkerRequest,
  type WorkerResponse,
} from './WorkerPool.js';
import type { KeyObject } from 'node:crypto';

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Copies into a buffer of its own so it can be transferred, not cloned. */
function own(b: Buffer): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

function run(msg: WorkerRequest): { res: WorkerResponse; transfer: ArrayBuffer[] } {
  const suite = getSuite(msg.suiteId);
  if (!suite) throw new Error('unknown suite');
  if (msg.kind === 'encrypt') {
    const r = encryptPrepared(buf(msg.plaintext), {
      materials: {
        suite,
        encryptionContext: msg.encryptionContext,
        requiredEncryptionContextKeys: msg.requiredEncryptionContextKeys,
        plaintextDataKey: buf(msg.dataKey),
        encryptedDataKeys: msg.encryptedDataKeys.map((e) => ({
          providerId: e.providerId,
          providerInfo: buf(e.providerInfo),
          encryptedDataKey: buf(e.encryptedDataKey),
        })),
        signingKey: signingKey(msg.signingKeyId),
      },
      frameLength: msg.frameLength,
      maxEdks: msg.maxEdks,
    });
    const out = own(r.ciphertext);
    return {
      res: { id: msg.id, ok: true, bytes: out, messageId: new Uint8Array(r.messageId) },
      transfer: [out.buffer as ArrayBuffer],
    };
  }
  const ct = buf(msg.ciphertext);
  const parsed = parseHeader(ct, 0);
  if (!parsed) throw formatError('message is truncated in the header');
  const r = decryptParsed(ct, parsed, {
    suite,
    encryptionContext: msg.encryptionContext,
    requiredEncryptionContextKeys: msg.requiredEncryptionContextKeys,
    plaintextDataKey: buf(msg.dataKey),
    verificationKey: msg.verificationKey,
  });
  const out = own(r.plaintext);
  r.plaintext.fill(0);
  return {
    res: { id: msg.id, ok: true, bytes: out, messageId: new Uint8Array(0) },
    transfer: [out.buffer as ArrayBuffer],
  };
}

/** Signing keys sent once by the pool, by index (the pool bounds the table and says what to drop). */
const keys = new Map<number, KeyObject>();

function signingKey(id: number): KeyObject | undefined {
  if (id < 0) return undefined;
  const k = keys.get(id);
  if (!k) throw new Error('EncryptionWorkerPool: unknown signing key');
  return k;
}

/** Results go back in groups this size: the first arrive while the rest of the batch is still signing. */
const REPLY_EVERY = 4;

parentPort?.on('message', (batch: WorkerBatch) => {
  for (const k of batch.keys) keys.set(k.id, k.key);
  let out: WorkerResponse[] = [];
  let transfer: ArrayBuffer[] = [];
  for (const msg of batch.requests) {
    try {
      const r = run(msg);
      out.push(r.res);
      transfer.push(...r.transfer);
    } catch (e) {
      out.push({ id: msg.id, ok: false, ...errorFields(e) });
    }
    if (out.length >= REPLY_EVERY) {
      parentPort?.postMessage(out, transfer);
      out = [];
      transfer = [];
    }
  }
  if (out.length > 0) parentPort?.postMessage(out, transfer);
  // After the requests: those queued before the pool dropped a key still found it.
  for (const id of batch.forget) keys.delete(id);
});
