import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encryptMany } from '../batch.js';
import { decrypt } from '../decrypt.js';
import { RawAesKeyring } from '../keyrings/RawAesKeyring.js';
import { CachingMaterialsManager } from '../materials/CachingMaterialsManager.js';
import { EncryptionWorkerPool } from './WorkerPool.js';

const keyring = new RawAesKeyring({
  keyNamespace: 'ns',
  keyName: 'k',
  wrappingKey: randomBytes(32),
});

describe('EncryptionWorkerPool batches and signing-key table', () => {
  it('signs with the right key when more distinct signing keys pass than a worker keeps (16), and with a key shared by cached materials', async () => {
    // One worker, so every key goes through the same table; 40 messages of the default manager carry
    // 40 different signing keys, so the table drops keys while requests that use them are still queued.
    const pool = new EncryptionWorkerPool({ size: 1 });
    const cached = new CachingMaterialsManager({ keyring, maxAgeMs: 60_000 });
    try {
      const items = Array.from({ length: 40 }, (_, i) => randomBytes(100 + i));
      for (const options of [{ keyring }, { materialsManager: cached }]) {
        const out = [];
        for await (const r of encryptMany(items, { ...options, workers: pool, concurrency: 40 }))
          out.push(r);
        expect(out.filter((r) => r.ok)).toHaveLength(40);
        const keys = new Set<string>();
        for (const r of out) {
          if (!r.ok) continue;
          keys.add(r.value.encryptionContext['aws-crypto-public-key'] as string);
          const d = await decrypt(r.value.ciphertext, { keyring });
          expect(d.plaintext.equals(items[r.index] as Buffer)).toBe(true);
        }
        expect(keys.size).toBe('keyring' in options ? 40 : 1);
      }
    } finally {
      cached.close();
      await pool.close();
    }
  });

  it('wipes the calling thread copy of each data key once its batch is posted', async () => {
    const pool = new EncryptionWorkerPool({ size: 1 });
    try {
      const dataKey = randomBytes(32);
      const { prepareEncrypt } = await import('./EncryptSession.js');
      const prepared = await prepareEncrypt({ keyring, suite: 0x0478 }, 3);
      prepared.materials.plaintextDataKey.copy(dataKey);
      const r = await pool.encrypt(Buffer.from('abc'), {
        ...prepared,
        materials: { ...prepared.materials, plaintextDataKey: dataKey },
      });
      expect(dataKey.equals(Buffer.alloc(32))).toBe(true);
      expect((await decrypt(r.ciphertext, { keyring })).plaintext.toString()).toBe('abc');
    } finally {
      await pool.close();
    }
  });
});
