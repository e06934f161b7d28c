import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DataKeyCache, type DataKey } from './DataKeyCache.js';
import { DecryptCache } from './DecryptCache.js';

/** `global.gc`, exposed at run time when the worker was started without `--expose-gc`. */
function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const MiB = 1024 * 1024;

/** Heap plus ArrayBuffer bytes (key buffers can live outside the V8 heap), after full collections. */
function used(gc: () => void): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('cache memory', () => {
  it('holds 10,000 data keys in under 16 MiB and documents the per-entry cost', async () => {
    const gc = gcFunction();
    const before = used(gc);
    const cache = new DataKeyCache({ maxEntries: 10_000, maxAgeMs: 3_600_000, sweepIntervalMs: 0 });
    for (let i = 0; i < 10_000; i++) {
      const key = {
        keyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        encryptionContext: { tenant: `tenant-${i}`, purpose: 'backup' },
      };
      const value: DataKey = {
        plaintext: randomBytes(32),
        ciphertextBlob: randomBytes(184),
        keyId: key.keyId,
      };
      (await cache.getOrLoad(key, { bytes: 4096 }, () => Promise.resolve(value))).release();
    }
    expect(cache.size).toBe(10_000);
    const delta = used(gc) - before;
    console.log(`DataKeyCache: ${Math.round(delta / 10_000)} bytes per entry`);
    expect(delta).toBeLessThan(16 * MiB);
    cache.close();
  });

  it('holds 10,000 Decrypt answers in under 16 MiB', () => {
    const gc = gcFunction();
    const before = used(gc);
    const cache = new DecryptCache({ ttlMs: 3_600_000, maxEntries: 10_000, sweepIntervalMs: 0 });
    for (let i = 0; i < 10_000; i++) {
      cache.set(randomBytes(32).toString('base64'), {
        Plaintext: randomBytes(32),
        KeyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        $metadata: { httpStatusCode: 200, requestId: `req-${i}`, attempts: 1 },
      });
    }
    expect(cache.size).toBe(10_000);
    const delta = used(gc) - before;
    console.log(`DecryptCache: ${Math.round(delta / 10_000)} bytes per entry`);
    expect(delta).toBeLessThan(16 * MiB);
    cache.close();
  });
});
