import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
} from '@aws-sdk/client-kms';
import {
  CHANNEL_NAMES,
  DataKeyCache,
  getDecryptCachePlugin,
  type CacheMessage,
  type CacheMiddlewareOptions,
  type DataKey,
} from '@steadykms/core';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClock, startTestKms, type TestKms } from './support/index.js';

let kms: TestKms | undefined;
afterEach(async () => {
  await kms?.close();
  kms = undefined;
});

/** A client with the cache plugin, plus an outer middleware standing in for the steadykms operation
 * middleware: it numbers operations and records what the cache middleware reported. */
function cachedClient(k: TestKms, options: CacheMiddlewareOptions) {
  const client = k.client();
  const reported: { id: number; cache: unknown }[] = [];
  let next = 0;
  client.middlewareStack.add(
    (nextHandler, context: Record<string, unknown>) => async (args) => {
      const id = ++next;
      context['steadykms.operationId'] = id;
      try {
        return await nextHandler(args);
      } finally {
        reported.push({ id, cache: context['steadykms.cache'] });
      }
    },
    { step: 'initialize', priority: 'high', name: 'testOperationMiddleware' },
  );
  // Added after it at the same step and priority, so it runs inside it, as in the steadykms plugin.
  client.middlewareStack.use(getDecryptCachePlugin(options));
  return { client, reported };
}

async function setUp(faults?: Record<string, { latencyMs: number }>) {
  kms = await startTestKms({
    quotas: false,
    ...(faults ? { faults: { operations: faults } } : {}),
  });
  const admin = kms.client();
  const keyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const context = { tenant: 'acme', purpose: 'test' };
  const secret = new TextEncoder().encode('a secret of thirty-two bytes!!!!');
  const blob = (
    await admin.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context }),
    )
  ).CiphertextBlob!;
  kms.server.resetStats();
  return { k: kms, admin, keyId, context, secret, blob };
}

const decrypts = (k: TestKms) => k.server.stats().byOperation['Decrypt']?.accepted ?? 0;

describe('Decrypt coalescing over HTTP', () => {
  it('makes one request for 64 concurrent identical Decrypts, each caller with its own copy', async () => {
    const { k, blob, context, secret } = await setUp({ Decrypt: { latencyMs: 100 } });
    const { client, reported } = cachedClient(k, { coalesce: true });
    const outs = await Promise.all(
      Array.from({ length: 64 }, () =>
        client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context })),
      ),
    );
    expect(decrypts(k)).toBe(1);
    expect(new Set(outs.map((o) => o.Plaintext)).size).toBe(64);
    outs[0]!.Plaintext!.fill(0);
    for (const o of outs.slice(1)) expect(Buffer.from(o.Plaintext!)).toEqual(Buffer.from(secret));
    const results = reported.map((r) => r.cache);
    expect(results.filter((c) => c === 'miss')).toHaveLength(1);
    expect(results.filter((c) => c === 'coalesced')).toHaveLength(63);
  });

  it('lets an aborting caller go at once while the others still get their answer', async () => {
    const { k, blob, context, secret } = await setUp({ Decrypt: { latencyMs: 800 } });
    const { client } = cachedClient(k, { coalesce: true });
    const send = (signal?: AbortSignal) =>
      client.send(
        new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }),
        signal ? { abortSignal: signal } : {},
      );
    const leaderAbort = new AbortController();
    const followerAbort = new AbortController();
    // Who settles in which order, not how fast: the machine is shared and timings are noisy.
    const order: string[] = [];
    const track = <T>(name: string, p: Promise<T>) =>
      p.then(
        (v) => (order.push(`${name}:ok`), v),
        (e: unknown) => {
          order.push(`${name}:${(e as Error).name}`);
          throw e;
        },
      );
    const leader = track('leader', send(leaderAbort.signal));
    const follower = track('follower', send(followerAbort.signal));
    const stayers = [track('stayer', send()), track('stayer', send())];
    await new Promise((r) => setTimeout(r, 30));
    followerAbort.abort();
    leaderAbort.abort();
    await expect(leader).rejects.toMatchObject({ name: 'AbortError' });
    await expect(follower).rejects.toMatchObject({ name: 'AbortError' });
    const stayed = await Promise.all(stayers);
    // The aborting callers left before the shared answer came back (800 ms of latency, twice).
    expect(order.slice(0, 2).sort()).toEqual(['follower:AbortError', 'leader:AbortError']);
    for (const o of stayed) {
      expect(Buffer.from(o.Plaintext!)).toEqual(Buffer.from(secret));
    }
    // The leader's request died with its signal; one stayer took the call over.
    expect(decrypts(k)).toBeLessThanOrEqual(2);
  });

  it('shares one DescribeKey among concurrent callers, each with its own deep copy', async () => {
    const { k, keyId } = await setUp({ DescribeKey: { latencyMs: 50 } });
    const { client } = cachedClient(k, { coalesce: true });
    const outs = await Promise.all(
      Array.from({ length: 10 }, () => client.send(new DescribeKeyCommand({ KeyId: keyId }))),
    );
    expect(k.server.stats().byOperation['DescribeKey']?.accepted).toBe(1);
    outs[0]!.KeyMetadata!.Description = 'mutated';
    expect(outs[1]!.KeyMetadata!.Description).not.toBe('mutated');
    expect(outs[1]!.KeyMetadata!.CreationDate).toBeInstanceOf(Date);
  });
});

describe('Decrypt cache over HTTP', () => {
  it('answers a repeated Decrypt from the cache with a fresh copy and no request', async () => {
    const { k, blob, context, secret } = await setUp();
    const { client, reported } = cachedClient(k, {
      decryptCache: { ttlMs: 60_000, maxEntries: 10 },
    });
    const cmd = () => new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context });
    const first = await client.send(cmd());
    first.Plaintext!.fill(0);
    const second = await client.send(cmd());
    second.Plaintext!.fill(0);
    const third = await client.send(cmd());
    expect(Buffer.from(third.Plaintext!)).toEqual(Buffer.from(secret));
    expect(third.$metadata.attempts).toBe(0);
    expect(third.KeyId).toBe(first.KeyId);
    expect(decrypts(k)).toBe(1);
    expect(reported.map((r) => r.cache)).toEqual(['miss', 'hit', 'hit']);
  });

  it('never answers a different encryption context from the cache', async () => {
    const { k, blob, context } = await setUp();
    const { client } = cachedClient(k, { decryptCache: { ttlMs: 60_000, maxEntries: 10 } });
    await client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }));
    await expect(
      client.send(
        new DecryptCommand({
          CiphertextBlob: blob,
          EncryptionContext: { ...context, tenant: 'other' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    expect(decrypts(k)).toBe(2);
  });

  it('stops decrypting with a disabled key once the TTL has passed', async () => {
    const { k, admin, keyId, blob, context } = await setUp();
    // The cache's clock is faked, so the boundary is exact however slow the machine is.
    const clock = fakeClock();
    const { client } = cachedClient(k, { decryptCache: { ttlMs: 300, maxEntries: 10, clock } });
    const decrypt = () =>
      client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }));
    await decrypt();
    await admin.send(new DisableKeyCommand({ KeyId: keyId }));
    clock.advance(299);
    await expect(decrypt()).resolves.toMatchObject({ KeyId: expect.any(String) as string });
    clock.advance(1);
    await expect(decrypt()).rejects.toMatchObject({ name: 'DisabledException' });
    expect(decrypts(k)).toBe(2);
  });
});

describe('cache events', () => {
  const seen: unknown[] = [];
  const listener = (m: unknown) => seen.push(m);
  afterEach(() => {
    unsubscribe(CHANNEL_NAMES.cache, listener);
    seen.length = 0;
  });

  it('publish hit, miss, coalesced and eviction with identifiers only, never key bytes', async () => {
    const { k, blob, context, keyId } = await setUp({ Decrypt: { latencyMs: 30 } });
    subscribe(CHANNEL_NAMES.cache, listener);
    const { client } = cachedClient(k, {
      decryptCache: { ttlMs: 60_000, maxEntries: 1 },
      coalesce: true,
    });
    const cmd = (ec = context) =>
      new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: ec });
    const outs = await Promise.all([client.send(cmd()), client.send(cmd())]);
    outs.push(await client.send(cmd()));
    await client.send(cmd({ ...context, tenant: 'x' })).catch(() => undefined);
    // A data-key cache over real GenerateDataKey, in the same stream of events.
    const dk = new DataKeyCache({ maxEntries: 1, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    // Copies of every secret as it first appears, before any cache zeroes its own.
    const secrets: Buffer[] = [Buffer.from(blob), ...outs.map((o) => Buffer.from(o.Plaintext!))];
    const load = async (): Promise<DataKey> => {
      const o = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
      secrets.push(Buffer.from(o.Plaintext!), Buffer.from(o.CiphertextBlob!));
      return { plaintext: o.Plaintext!, ciphertextBlob: o.CiphertextBlob!, keyId: o.KeyId! };
    };
    (await dk.getOrLoad({ keyId, encryptionContext: context }, { bytes: 10 }, load)).release();
    (await dk.getOrLoad({ keyId, encryptionContext: context }, { bytes: 10 }, load)).release();
    (await dk.getOrLoad({ keyId: 'other' }, { bytes: 10 }, load)).release();
    dk.close();

    const messages = seen as CacheMessage[];
    const summary = messages.map((m) => `${m.cache}:${m.event}:${m.reason ?? ''}`);
    expect(summary).toEqual([
      'decrypt:miss:',
      'decrypt:coalesced:',
      'decrypt:hit:',
      'decrypt:miss:',
      'data-key:miss:',
      'data-key:hit:',
      'data-key:miss:',
      'data-key:evict:capacity',
      'data-key:evict:delete',
    ]);
    for (const m of messages) {
      expect(Object.keys(m).sort()).toEqual(
        ['cache', 'event', 'keyId', 'operation', 'operationId', 'reason'].sort(),
      );
    }
    expect(messages[0]!.operationId).toBeTypeOf('number');
    const text = JSON.stringify(messages);
    expect(secrets).toHaveLength(1 + 3 + 4);
    for (const b of secrets) {
      for (const enc of ['base64', 'hex', 'base64url'] as const) {
        expect(text).not.toContain(b.toString(enc));
      }
    }
    expect(text).not.toContain('acme');
  });
});
