import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { DecryptCommandOutput } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { CHANNEL_NAMES, type CacheMessage } from '../events/channels.js';
import { DecryptCache } from './DecryptCache.js';

function clock(start = 5_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

function output(): DecryptCommandOutput {
  return {
    Plaintext: randomBytes(32),
    KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k',
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    $metadata: { httpStatusCode: 200, requestId: 'r-1', attempts: 1, totalRetryDelay: 0 },
  };
}

const caches: DecryptCache[] = [];
function make(o: ConstructorParameters<typeof DecryptCache>[0]): DecryptCache {
  const c = new DecryptCache({ sweepIntervalMs: 0, ...o });
  caches.push(c);
  return c;
}
afterEach(() => {
  for (const c of caches.splice(0)) c.close();
});

describe('DecryptCache', () => {
  it('answers until ttlMs has passed since it was stored, not at ttlMs', () => {
    const t = clock();
    const c = make({ ttlMs: 1_000, maxEntries: 10, clock: t });
    c.set('k', output());
    t.advance(999);
    expect(c.get('k')).toBeDefined();
    t.advance(1);
    expect(c.get('k')).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, expirations: 1, size: 0 });
  });

  it('hands out copies: zeroing one harms neither the cache nor the next caller', () => {
    const c = make({ ttlMs: 1_000, maxEntries: 10 });
    const o = output();
    const original = Buffer.from(o.Plaintext!);
    c.set('k', o);
    o.Plaintext!.fill(0); // the caller that made the request zeroes its own
    const a = c.get('k')!;
    expect(Buffer.from(a.Plaintext!)).toEqual(original);
    a.Plaintext!.fill(0);
    const b = c.get('k')!;
    expect(Buffer.from(b.Plaintext!)).toEqual(original);
    expect(b.Plaintext).not.toBe(a.Plaintext);
    expect(b).not.toBe(a);
    expect(b.$metadata).toEqual({ httpStatusCode: 200, attempts: 0, totalRetryDelay: 0 });
    expect(b.KeyId).toBe(o.KeyId);
  });

  it('zeroes the cached plaintext when an entry is evicted, expires, is replaced or deleted', () => {
    const t = clock();
    const c = make({ ttlMs: 1_000, maxEntries: 2, clock: t });
    // The cache copies with Uint8Array.prototype.slice, which builds the copy with the input's own
    // constructor: a recording subclass lets the test see the cache's private copies.
    const stored: Uint8Array[] = [];
    class Recorded extends Uint8Array {
      constructor(n: number) {
        super(n);
        stored.push(this);
      }
    }
    const recorded = (): DecryptCommandOutput => {
      const p = Recorded.from(randomBytes(32));
      stored.length -= 1; // from() itself constructs one; only the cache's copies count
      return { ...output(), Plaintext: p };
    };
    const zeroed = (i: number) => stored[i]!.every((x) => x === 0);
    c.set('a', recorded());
    c.set('b', recorded());
    c.set('c', recorded()); // evicts a: capacity
    expect(stored).toHaveLength(3);
    expect([zeroed(0), zeroed(1), zeroed(2)]).toEqual([true, false, false]);
    c.delete('b');
    expect(zeroed(1)).toBe(true);
    c.set('c', recorded()); // replaces c
    expect(zeroed(2)).toBe(true);
    t.advance(1_000);
    expect(zeroed(3)).toBe(false);
    expect(c.purgeStale()).toBe(1);
    expect(zeroed(3)).toBe(true);
  });

  it('validates ttlMs and maxEntries, naming them', () => {
    expect(() => new DecryptCache({ ttlMs: 0, maxEntries: 1 })).toThrow(/ttlMs/);
    expect(() => new DecryptCache({ ttlMs: 1, maxEntries: 0.5 })).toThrow(/maxEntries/);
    expect(() => new DecryptCache({ ttlMs: 1, maxEntries: 0 })).toThrow(InvalidOptionError);
    // @ts-expect-error both limits are required: an unbounded Decrypt cache does not compile
    expect(() => new DecryptCache({ ttlMs: 1 })).toThrow(/maxEntries/);
  });

  it('publishes evictions and expiries with their reason and identifiers only', () => {
    const seen: CacheMessage[] = [];
    const listener = (m: unknown) => seen.push(m as CacheMessage);
    subscribe(CHANNEL_NAMES.cache, listener);
    try {
      const t = clock();
      const c = make({ ttlMs: 1_000, maxEntries: 1, clock: t });
      const outputs = [output(), output(), output()];
      const secrets = outputs.map((o) => Buffer.from(o.Plaintext!));
      c.set('a', outputs[0]!);
      c.set('b', outputs[1]!); // evicts a: capacity
      c.set('b', outputs[2]!); // replaces b
      c.delete('b');
      c.set('c', outputs[0]!);
      t.advance(1_000);
      expect(c.get('c', 42)).toBeUndefined(); // expires, attributed to operation 42
      expect(seen.map((m) => `${m.cache}:${m.event}:${m.reason ?? ''}`)).toEqual([
        'decrypt:evict:capacity',
        'decrypt:evict:replaced',
        'decrypt:evict:delete',
        'decrypt:expire:maxAge',
      ]);
      expect(seen.at(-1)).toMatchObject({ operation: 'Decrypt', operationId: 42 });
      const text = JSON.stringify(seen);
      for (const b of secrets) expect(text).not.toContain(b.toString('base64'));
    } finally {
      unsubscribe(CHANNEL_NAMES.cache, listener);
    }
  });

  it('rejects a negative or non-finite ttl and a clock without now(), naming the option', () => {
    const bad: [string, () => unknown][] = [
      ['ttlMs', () => new DecryptCache({ ttlMs: -5, maxEntries: 1 })],
      ['ttlMs', () => new DecryptCache({ ttlMs: Infinity, maxEntries: 1 })],
      ['maxEntries', () => new DecryptCache({ ttlMs: 1, maxEntries: 2 ** 31 })],
      ['sweepIntervalMs', () => new DecryptCache({ ttlMs: 1, maxEntries: 1, sweepIntervalMs: -1 })],
      ['clock', () => new DecryptCache({ ttlMs: 1, maxEntries: 1, clock: { now: 5 } as never })],
    ];
    for (const [name, f] of bad) {
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
