import { CreateKeyCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { DataKeyCache, getSteadyKmsPlugin, type DataKey } from '@steadykms/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestKms, type TestKms } from './support/index.js';

let kms: TestKms | undefined;
let cache: DataKeyCache | undefined;
afterEach(async () => {
  cache?.close();
  cache = undefined;
  await kms?.close();
  kms = undefined;
});

async function setUp(latencyMs: number) {
  kms = await startTestKms({
    quotas: false,
    faults: { operations: { GenerateDataKey: { latencyMs } } },
  });
  const client = kms.client();
  // Loads go through the steadykms plugin, as the envelope package will route them, so they are paced.
  client.middlewareStack.use(getSteadyKmsPlugin({ region: 'us-east-1' }));
  const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  kms.server.resetStats();
  const k = kms;
  const generated = () => k.server.stats().byOperation['GenerateDataKey']?.accepted ?? 0;
  return { client, keyId, generated };
}

function loader(client: KMSClient, keyId: string) {
  return async (): Promise<DataKey> => {
    const o = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    return { plaintext: o.Plaintext!, ciphertextBlob: o.CiphertextBlob!, keyId: o.KeyId! };
  };
}

describe('DataKeyCache over HTTP', () => {
  it('serves 64 concurrent misses with one GenerateDataKey per 32-message budget', async () => {
    const { client, keyId, generated } = await setUp(50);
    cache = new DataKeyCache({ maxEntries: 10, maxAgeMs: 60_000, maxMessages: 32 });
    const load = loader(client, keyId);
    const leases = await Promise.all(
      Array.from({ length: 64 }, () => cache!.getOrLoad({ keyId }, { bytes: 100 }, load)),
    );
    expect(generated()).toBe(2);
    expect(new Set(leases.map((l) => l.value)).size).toBe(2);
    for (const l of leases) l.release();
  });

  it('renews a hot entry ahead of expiry so no caller after the first waits for KMS', async () => {
    const { client, keyId, generated } = await setUp(20);
    // A wide window (700 of 900 ms) so a renewal lands in time even when this loaded machine
    // deschedules the process for a few hundred milliseconds.
    cache = new DataKeyCache({ maxEntries: 10, maxAgeMs: 900, refreshAheadMs: 700 });
    const load = loader(client, keyId);
    const sources: string[] = [];
    const end = performance.now() + 2_000;
    while (performance.now() < end) {
      const lease = await cache.getOrLoad({ keyId }, { bytes: 1 }, load);
      sources.push(lease.source);
      lease.release();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(sources[0]).toBe('miss');
    expect(sources.slice(1).every((s) => s === 'hit')).toBe(true);
    // 2 s of 900 ms entries: without renewals they would have expired twice.
    expect(generated()).toBeGreaterThanOrEqual(3);
    // Every load after the first was a renewal, none an expiry miss. (Compared with the cache's own
    // count of loads: the server's count can lag by a renewal still in flight when the loop ends.)
    const { loads, refreshes } = cache.stats();
    expect(refreshes).toBe(loads - 1);
    expect(generated()).toBeLessThanOrEqual(loads);
  });
});
