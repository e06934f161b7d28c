// Worker-thread entry of EncryptionWorkerPool: runs the CPU-bound half of encrypt (key derivation, framing,
// ECDSA signing) or decrypt (key derivation, tags, signature verification) on materials the calling thread
// already obtained from its keyring.
import { parentPort } from 'node:worker_threads';
import { SteadyKmsError } from '@steadykms/core';
import { encryptPrepared } from '../encrypt.js';
import { decryptParsed } from '../decrypt.js';
import { parseHeader } from '../format/header.js';
import { getSuite } from '../suites.js';
import { formatError } from '../errors.js';
import type { WorkerRequest, WorkerResponse } from './WorkerPool.js';

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
        signingKey: msg.signingKey,
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

parentPort?.on('message', (msg: WorkerRequest) => {
  let res: WorkerResponse;
  let transfer: ArrayBuffer[] = [];
  try {
    ({ res, transfer } = run(msg));
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
