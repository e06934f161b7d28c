import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import {
  CHANNEL_NAMES,
  getDecryptCachePlugin,
  getSteadyKmsPlugin,
  type CacheMessage,
  type OperationEndMessage,
} from '@steadykms/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestKms, type TestKms } from './support/index.js';

let kms: TestKms | undefined;
const ends: OperationEndMessage[] = [];
const caches: CacheMessage[] = [];
const onEnd = (m: unknown) => ends.push(m as OperationEndMessage);
const onCache = (m: unknown) => caches.push(m as CacheMessage);
afterEach(async () => {
  unsubscribe(CHANNEL_NAMES.operationEnd, onEnd);
  unsubscribe(CHANNEL_NAMES.cache, onCache);
  ends.length = 0;
  caches.length = 0;
  await kms?.close();
  kms = undefined;
});

describe('cache middleware inside the steadykms plugin', () => {
  it('reports miss, hit and coalesced in operation:end, with the operation id in cache events', async () => {
    kms = await startTestKms({
      quotas: false,
      faults: { operations: { Decrypt: { latencyMs: 50 } } },
    });
    const admin = kms.client();
    const keyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (
      await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(32).fill(7) }))
    ).CiphertextBlob!;
    kms.server.resetStats();

    const client = kms.client();
    client.middlewareStack.use(getSteadyKmsPlugin({ region: 'us-east-1' }));
    // Same step and priority, added after: runs inside the operation middleware (DESIGN §3 order).
    client.middlewareStack.use(
      getDecryptCachePlugin({ decryptCache: { ttlMs: 60_000, maxEntries: 100 }, coalesce: true }),
    );
    subscribe(CHANNEL_NAMES.operationEnd, onEnd);
    subscribe(CHANNEL_NAMES.cache, onCache);

    const cmd = () => new DecryptCommand({ CiphertextBlob: blob });
    await Promise.all([client.send(cmd()), client.send(cmd())]);
    const hit = await client.send(cmd());
    expect(hit.Plaintext).toEqual(new Uint8Array(32).fill(7));

    expect(kms.server.stats().byOperation['Decrypt']?.accepted).toBe(1);
    const decryptEnds = ends.filter((e) => e.operation === 'Decrypt');
    expect(decryptEnds.map((e) => [e.cache, e.attempts]).sort()).toEqual(
      [
        ['coalesced', 0],
        ['hit', 0],
        ['miss', 1],
      ].sort(),
    );
    const ids = new Set(decryptEnds.map((e) => e.operationId));
    expect(caches.filter((c) => c.cache === 'decrypt').map((c) => c.operationId)).toSatisfy(
      (xs: unknown[]) => xs.length === 3 && xs.every((x) => ids.has(x as number)),
    );
  });
});

describe('one plugin object applied to two clients', () => {
  it('gives each client its own Decrypt cache, so one client never answers the other from cache', async () => {
    kms = await startTestKms({ quotas: false });
    const admin = kms.client();
    const keyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (
      await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(16).fill(3) }))
    ).CiphertextBlob!;
    kms.server.resetStats();

    const plugin = getSteadyKmsPlugin({
      region: 'us-east-1',
      decryptCache: { ttlMs: 60_000, maxEntries: 10 },
    });
    const a = kms.client();
    const b = kms.client();
    a.middlewareStack.use(plugin);
    b.middlewareStack.use(plugin);

    await a.send(new DecryptCommand({ CiphertextBlob: blob }));
    await a.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(kms.server.stats().byOperation['Decrypt']?.accepted).toBe(1);
    // Client b may hold other credentials: its first Decrypt must reach KMS.
    await b.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(kms.server.stats().byOperation['Decrypt']?.accepted).toBe(2);
  });
});
