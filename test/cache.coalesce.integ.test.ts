import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetPublicKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  CHANNEL_NAMES,
  getDecryptCachePlugin,
  getSteadyKmsPlugin,
  InvalidOptionError,
  type CacheMessage,
  type CacheMiddlewareOptions,
} from '@steadykms/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestKms, type TestKms } from './support/index.js';

// Coalescing and the Decrypt cache against local-kms over HTTP, for the cases an independent review ran:
// GetPublicKey and DescribeKey sharing one request, errors shared and never cached, the cache key's
// parts (context order, KeyId, EncryptionAlgorithm) and the plugin's own `decryptCache`/`coalesce`.

let kms: TestKms | undefined;
afterEach(async () => {
  await kms?.close();
  kms = undefined;
});

/** Requests local-kms answered for `op`, whatever the outcome (`accepted` includes KMS errors). */
function requests(k: TestKms, op: string): number {
  const c = k.server.stats().byOperation[op];
  return c === undefined ? 0 : c.accepted + c.throttled + c.faulted;
}

async function start(latency: Record<string, number> = {}) {
  const operations = Object.fromEntries(
    Object.entries(latency).map(([op, latencyMs]) => [op, { latencyMs }]),
  );
  kms = await startTestKms({ quotas: false, faults: { operations } });
  return { k: kms, admin: kms.client() };
}

function withCache(k: TestKms, options: CacheMiddlewareOptions): KMSClient {
  const client = k.client();
  client.middlewareStack.use(getDecryptCachePlugin(options));
  return client;
}

async function rsaKey(admin: KMSClient): Promise<string> {
  const m = await admin.send(
    new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }),
  );
  return m.KeyMetadata!.KeyId!;
}

async function symmetricKey(admin: KMSClient): Promise<string> {
  return (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
}

async function settled<T>(ps: Promise<T>[]) {
  const all = await Promise.allSettled(ps);
  return all.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : 'ok'));
}

describe('GetPublicKey and DescribeKey coalescing over HTTP', () => {
  it('makes one GetPublicKey request for 16 identical concurrent calls, each with its own bytes', async () => {
    const { k, admin } = await start({ GetPublicKey: 150 });
    const keyId = await rsaKey(admin);
    const expected = (await admin.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!;
    k.server.resetStats();
    const client = withCache(k, { coalesce: true });
    const outs = await Promise.all(
      Array.from({ length: 16 }, () => client.send(new GetPublicKeyCommand({ KeyId: keyId }))),
    );
    expect(requests(k, 'GetPublicKey')).toBe(1);
    expect(new Set(outs.map((o) => o.PublicKey)).size).toBe(16);
    outs[0]!.PublicKey!.fill(0);
    outs[0]!.EncryptionAlgorithms!.length = 0;
    for (const o of outs.slice(1)) {
      expect(Buffer.from(o.PublicKey!)).toEqual(Buffer.from(expected));
      expect(o.EncryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    }
    // Coalescing is not caching: a call after the shared one settled makes its own request.
    await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(requests(k, 'GetPublicKey')).toBe(2);
  });

  it('publishes one coalesce miss and the coalesced waits, with identifiers only', async () => {
    const { k, admin } = await start({ GetPublicKey: 100 });
    const keyId = await rsaKey(admin);
    const client = withCache(k, { coalesce: true });
    const seen: CacheMessage[] = [];
    const listener = (m: unknown) => seen.push(m as CacheMessage);
    subscribe(CHANNEL_NAMES.cache, listener);
    let outs;
    try {
      outs = await Promise.all(
        Array.from({ length: 4 }, () => client.send(new GetPublicKeyCommand({ KeyId: keyId }))),
      );
    } finally {
      unsubscribe(CHANNEL_NAMES.cache, listener);
    }
    expect(seen.map((m) => `${m.cache}:${m.event}:${m.operation}:${m.keyId}`)).toEqual([
      `coalesce:miss:GetPublicKey:${keyId}`,
      ...Array<string>(3).fill(`coalesce:coalesced:GetPublicKey:${keyId}`),
    ]);
    const text = JSON.stringify(seen);
    expect(text).not.toContain(Buffer.from(outs[0]!.PublicKey!).toString('base64'));
  });

  it('keeps operations, key ids and grant tokens apart', async () => {
    const { k, admin } = await start({ GetPublicKey: 100, DescribeKey: 100 });
    const a = await rsaKey(admin);
    const b = await rsaKey(admin);
    k.server.resetStats();
    const client = withCache(k, { coalesce: true });
    const outs = await Promise.all([
      client.send(new GetPublicKeyCommand({ KeyId: a })),
      client.send(new GetPublicKeyCommand({ KeyId: a })),
      client.send(new GetPublicKeyCommand({ KeyId: b })),
      client.send(new GetPublicKeyCommand({ KeyId: a, GrantTokens: ['token'] })),
      client.send(new DescribeKeyCommand({ KeyId: a })),
      client.send(new DescribeKeyCommand({ KeyId: a })),
      client.send(new DescribeKeyCommand({ KeyId: b })),
    ]);
    expect(requests(k, 'GetPublicKey')).toBe(3);
    expect(requests(k, 'DescribeKey')).toBe(2);
    expect(outs[2].KeyId).not.toBe(outs[0].KeyId);
    expect(Buffer.from(outs[2].PublicKey!)).not.toEqual(Buffer.from(outs[0].PublicKey!));
  });

  it('gives every coalesced GetPublicKey caller the error, and caches nothing', async () => {
    const { k, admin } = await start({ GetPublicKey: 100 });
    const symmetric = await symmetricKey(admin); // has no public key
    k.server.resetStats();
    const client = withCache(k, { coalesce: true });
    const call = () => client.send(new GetPublicKeyCommand({ KeyId: symmetric }));
    const names = await settled(Array.from({ length: 8 }, call));
    expect(new Set(names)).toEqual(new Set(['UnsupportedOperationException']));
    expect(requests(k, 'GetPublicKey')).toBe(1);
    await expect(call()).rejects.toMatchObject({ name: 'UnsupportedOperationException' });
    expect(requests(k, 'GetPublicKey')).toBe(2);
  });

  it('lets the caller running a shared DescribeKey abort while the others get their answer', async () => {
    const { k, admin } = await start({ DescribeKey: 800 });
    const keyId = await symmetricKey(admin);
    k.server.resetStats();
    const client = withCache(k, { coalesce: true });
    const ac = new AbortController();
    const runner = client.send(new DescribeKeyCommand({ KeyId: keyId }), {
      abortSignal: ac.signal,
    });
    const others = Array.from({ length: 4 }, () =>
      client.send(new DescribeKeyCommand({ KeyId: keyId })),
    );
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    await expect(runner).rejects.toMatchObject({ name: 'AbortError' });
    for (const o of await Promise.all(others)) expect(o.KeyMetadata!.KeyId).toBe(keyId);
    // The runner's request died with its signal; one of the others re-issued it for the rest.
    expect(k.server.stats().byOperation['DescribeKey']?.accepted).toBeLessThanOrEqual(2);
  });
});

describe('Decrypt errors with coalescing and the Decrypt cache', () => {
  it('gives every coalesced caller the InvalidCiphertextException, and never caches it', async () => {
    const { k, admin } = await start({ Decrypt: 100 });
    const keyId = await symmetricKey(admin);
    const blob = (
      await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(16).fill(1) }))
    ).CiphertextBlob!;
    const tampered = Uint8Array.from(blob);
    tampered[tampered.length - 1]! ^= 1;
    k.server.resetStats();
    const client = withCache(k, {
      decryptCache: { ttlMs: 60_000, maxEntries: 10 },
      coalesce: true,
    });
    const call = () => client.send(new DecryptCommand({ CiphertextBlob: tampered }));
    const names = await settled(Array.from({ length: 8 }, call));
    expect(new Set(names)).toEqual(new Set(['InvalidCiphertextException']));
    expect(requests(k, 'Decrypt')).toBe(1);
    await expect(call()).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    expect(requests(k, 'Decrypt')).toBe(2);
    // The good blob still decrypts and is cached after the failures.
    await client.send(new DecryptCommand({ CiphertextBlob: blob }));
    await client.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(requests(k, 'Decrypt')).toBe(3);
  });
});

describe('Decrypt cache keys over HTTP', () => {
  it('hits for the same context pairs in another order, misses for another value, key or pair', async () => {
    const { k, admin } = await start();
    const keyId = await symmetricKey(admin);
    const context = { tenant: 'acme', purpose: 'backup', region: 'eu' };
    const blob = (
      await admin.send(
        new EncryptCommand({
          KeyId: keyId,
          Plaintext: new Uint8Array(8).fill(3),
          EncryptionContext: context,
        }),
      )
    ).CiphertextBlob!;
    k.server.resetStats();
    const client = withCache(k, { decryptCache: { ttlMs: 60_000, maxEntries: 10 } });
    const decrypt = (EncryptionContext: Record<string, string>) =>
      client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext }));
    await decrypt(context);
    const reordered = await decrypt({ region: 'eu', tenant: 'acme', purpose: 'backup' });
    expect(reordered.$metadata.attempts).toBe(0);
    expect(reordered.Plaintext).toEqual(new Uint8Array(8).fill(3));
    expect(requests(k, 'Decrypt')).toBe(1);
    const wrong = [
      { ...context, tenant: 'other' }, // another value
      { tenant: 'acme', purpose: 'backup', regiom: 'eu' }, // another key
      { ...context, extra: '' }, // one more pair
      { tenant: 'acme', purpose: 'backup' }, // one pair fewer
    ];
    for (const ec of wrong) {
      await expect(decrypt(ec)).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    }
    expect(requests(k, 'Decrypt')).toBe(1 + wrong.length);
  });

  it('misses for another KeyId or EncryptionAlgorithm, so KMS still rejects the wrong one', async () => {
    const { k, admin } = await start();
    const rsa = await rsaKey(admin);
    const other = await rsaKey(admin);
    const blob = (
      await admin.send(
        new EncryptCommand({
          KeyId: rsa,
          Plaintext: Buffer.from('rsa secret'),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      )
    ).CiphertextBlob!;
    k.server.resetStats();
    const client = withCache(k, { decryptCache: { ttlMs: 60_000, maxEntries: 10 } });
    const decrypt = (
      KeyId: string,
      EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256',
    ) => client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId, EncryptionAlgorithm }));
    const ok = await decrypt(rsa, 'RSAES_OAEP_SHA_256');
    expect(Buffer.from(ok.Plaintext!).toString()).toBe('rsa secret');
    expect((await decrypt(rsa, 'RSAES_OAEP_SHA_256')).$metadata.attempts).toBe(0);
    expect(requests(k, 'Decrypt')).toBe(1);
    await expect(decrypt(rsa, 'RSAES_OAEP_SHA_1')).rejects.toMatchObject({
      name: 'InvalidCiphertextException',
    });
    await expect(decrypt(other, 'RSAES_OAEP_SHA_256')).rejects.toMatchObject({
      name: expect.stringMatching(/InvalidCiphertextException|IncorrectKeyException/) as string,
    });
    expect(requests(k, 'Decrypt')).toBe(3);
  });
});

describe('the steadykms plugin with decryptCache and coalesce', () => {
  it('caches and coalesces Decrypt over HTTP through its own options', async () => {
    const { k, admin } = await start({ Decrypt: 100 });
    const keyId = await symmetricKey(admin);
    const blob = (
      await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(4).fill(5) }))
    ).CiphertextBlob!;
    k.server.resetStats();
    const client = k.client();
    client.middlewareStack.use(
      getSteadyKmsPlugin({
        region: 'us-east-1',
        decryptCache: { ttlMs: 60_000, maxEntries: 10 },
        coalesce: true,
      }),
    );
    const call = () => client.send(new DecryptCommand({ CiphertextBlob: blob }));
    const outs = await Promise.all(Array.from({ length: 8 }, call));
    outs.push(await call());
    expect(requests(k, 'Decrypt')).toBe(1);
    for (const o of outs) expect(o.Plaintext).toEqual(new Uint8Array(4).fill(5));
    expect(outs.at(-1)!.$metadata.attempts).toBe(0);
  });

  it('rejects unusable cache options when the plugin is made, naming the option', () => {
    const cases: [string, () => unknown][] = [
      ['ttlMs', () => getSteadyKmsPlugin({ decryptCache: { ttlMs: -1, maxEntries: 10 } })],
      ['maxEntries', () => getSteadyKmsPlugin({ decryptCache: { ttlMs: 1, maxEntries: 1.5 } })],
      ['coalesce', () => getDecryptCachePlugin({ coalesce: 1 as never })],
    ];
    for (const [name, f] of cases) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(InvalidOptionError.is(err), name).toBe(true);
      expect((err as Error).message, name).toContain(name);
    }
  });
});
