import { Readable } from 'node:stream';
import {
  DecryptCommand,
  GetPublicKeyCommand,
  KMSClient,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { getDecryptCachePlugin, resolveCacheConfig } from './cacheMiddleware.js';
import { DecryptCache } from './DecryptCache.js';

/** A KMSClient whose HTTP handler is a pure function of the request: records targets, answers JSON. */
function client(answer: (target: string) => unknown, delayMs = 20) {
  const seen: string[] = [];
  const requestHandler: KMSClientConfig['requestHandler'] = {
    handle: async (request: { headers: Record<string, string> }) => {
      const target = request.headers['x-amz-target'] ?? '';
      seen.push(target);
      await new Promise((r) => setTimeout(r, delayMs));
      const body = Buffer.from(JSON.stringify(answer(target)));
      return {
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.1' },
          body: Readable.from([body]),
        },
      };
    },
  } as never;
  const c = new KMSClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    maxAttempts: 1,
    requestHandler,
  });
  return { c, seen };
}

const plaintext = Buffer.alloc(32, 9).toString('base64');
const decryptAnswer = () => ({
  KeyId: 'arn:k',
  Plaintext: plaintext,
  EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
});

describe('cache middleware', () => {
  it('shares identical in-flight GetPublicKey calls, each caller with its own PublicKey bytes', async () => {
    const { c, seen } = client(() => ({
      KeyId: 'arn:k',
      PublicKey: Buffer.from('pk').toString('base64'),
    }));
    c.middlewareStack.use(getDecryptCachePlugin({ coalesce: true }));
    const outs = await Promise.all(
      Array.from({ length: 5 }, () => c.send(new GetPublicKeyCommand({ KeyId: 'k' }))),
    );
    expect(seen).toEqual(['TrentService.GetPublicKey']);
    expect(new Set(outs.map((o) => o.PublicKey)).size).toBe(5);
    await Promise.all([
      c.send(new GetPublicKeyCommand({ KeyId: 'k' })),
      c.send(new GetPublicKeyCommand({ KeyId: 'k', GrantTokens: ['t'] })),
    ]);
    expect(seen).toHaveLength(3);
  });

  it('passes Decrypt with Recipient or DryRun straight through', async () => {
    const { c, seen } = client(decryptAnswer);
    c.middlewareStack.use(
      getDecryptCachePlugin({ decryptCache: { ttlMs: 60_000, maxEntries: 10 }, coalesce: true }),
    );
    const blob = new Uint8Array([1, 2, 3]);
    await c.send(new DecryptCommand({ CiphertextBlob: blob, DryRun: true }));
    await c.send(new DecryptCommand({ CiphertextBlob: blob, DryRun: true }));
    expect(seen).toHaveLength(2);
    await c.send(new DecryptCommand({ CiphertextBlob: blob }));
    await c.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(seen).toHaveLength(3);
  });

  it('gives each client its own Decrypt cache unless one is shared explicitly', async () => {
    const a = client(decryptAnswer);
    const b = client(decryptAnswer);
    const plugin = getDecryptCachePlugin({ decryptCache: { ttlMs: 60_000, maxEntries: 10 } });
    a.c.middlewareStack.use(plugin);
    b.c.middlewareStack.use(plugin);
    const blob = new Uint8Array([4]);
    await a.c.send(new DecryptCommand({ CiphertextBlob: blob }));
    await b.c.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect([a.seen.length, b.seen.length]).toEqual([1, 1]);

    const shared = new DecryptCache({ ttlMs: 60_000, maxEntries: 10, sweepIntervalMs: 0 });
    const x = client(decryptAnswer);
    const y = client(decryptAnswer);
    x.c.middlewareStack.use(getDecryptCachePlugin({ decryptCache: shared }));
    y.c.middlewareStack.use(getDecryptCachePlugin({ decryptCache: shared }));
    await x.c.send(new DecryptCommand({ CiphertextBlob: blob }));
    await y.c.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect([x.seen.length, y.seen.length]).toEqual([1, 0]);
    shared.close();
  });

  it('rejects unusable options, naming them', () => {
    expect(() => resolveCacheConfig({ decryptCache: { ttlMs: -1, maxEntries: 1 } })).toThrow(
      /ttlMs/,
    );
    expect(() => resolveCacheConfig({ coalesce: 'yes' as never })).toThrow(/coalesce/);
  });
});
