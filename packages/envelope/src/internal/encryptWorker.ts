// Worker-thread entry of EncryptionWorkerPool: runs the CPU-bound half of encrypt (key derivation, framing,
// ECDSA signing) on materials the calling thread already obtained from its keyring.
import { parentPort } from 'node:worker_threads';
import { SteadyKmsError } from '@steadykms/core';
import { encryptPrepared } from '../encrypt.js';
import { getSuite } from '../suites.js';
import type { WorkerRequest, WorkerResponse } from './WorkerPool.js';

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

parentPort?.on('message', (msg: WorkerRequest) => {
  let res: WorkerResponse;
  let transfer: ArrayBuffer[] = [];
  try {
    const suite = getSuite(msg.suiteId);
    if (!suite) throw new Error('unknown suite');
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
        signingKey: msg.signingKey,
      },
      frameLength: msg.frameLength,
      maxEdks: msg.maxEdks,
    });
    // Copy into a buffer of its own so it can be transferred, not cloned.
    const out = new Uint8Array(r.ciphertext.length);
    out.set(r.ciphertext);
    transfer = [out.buffer];
    res = { id: msg.id, ok: true, ciphertext: out, messageId: new Uint8Array(r.messageId) };
  } catch (e) {
    res = {
      id: msg.id,
      ok: false,
      name: (e as Error).name,
      message: (e as Error).message,
      code: SteadyKmsError.is(e) ? e.code : undefined,
    };
  }
  parentPort?.postMessage(res, transfer);
});
