import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { CHANNEL_NAMES, type CacheMessage } from '../events/channels.js';
import type { DataKeyCacheKey } from './cacheKey.js';
import { DataKeyCache, MAX_MESSAGES_PER_DATA_KEY, type DataKey } from './DataKeyCache.js';

function clock(start = 1_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

const KEY: DataKeyCacheKey = { keyId: 'alias/test', encryptionContext: { tenant: 'a' } };

/** A load that counts its calls and returns a fresh random data key each time. */
function loader() {
  const made: DataKey[] = [];
  const load = (): Promise<DataKey> => {
    const k = { plaintext: randomBytes(32), ciphertextBlob: randomBytes(64), keyId: 'arn:k' };
    made.push(k);
    return Promise.resolve(k);
  };
  return { load, made };
}

const zeroed = (b: Uint8Array) => b.every((x) => x === 0);
const caches: DataKeyCache<unknown>[] = [];
function make<V = DataKey>(
  options: ConstructorParameters<typeof DataKeyCache<V>>[0],
): DataKeyCache<V> {
  const c = new DataKeyCache<V>(options);
  caches.push(c as DataKeyCache<unknown>);
  return c;
}
afterEach(() => {
  for (const c of caches.splice(0)) c.close();
});

describe('DataKeyCache limits', () => {
  it('hands an entry out exactly maxMessages times, then loads a new one', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxMessages: 3, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const sources: string[] = [];
    for (let i = 0; i < 7; i++) {
      const lease = await c.getOrLoad(KEY, { bytes: 1 }, load);
      sources.push(lease.source);
      expect(lease.value).toBe(made[Math.floor(i / 3)]);
      lease.release();
    }
    expect(made).toHaveLength(3);
    expect(sources).toEqual(['miss', 'hit', 'hit', 'miss', 'hit', 'hit', 'miss']);
  });

  it('refuses a hand-out that would exceed maxBytes, and accepts one that lands exactly on it', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxBytes: 100, sweepIntervalMs: 0 });
    const { load, made } = loader();
    (await c.getOrLoad(KEY, { bytes: 60 }, load)).release();
    // 60 + 41 > 100: must not be handed out.
    const b = await c.getOrLoad(KEY, { bytes: 41 }, load);
    expect(b.source).toBe('miss');
    expect(b.value).toBe(made[1]);
    b.release();
    // 41 + 59 = 100: exactly at the limit is allowed.
    const d = await c.getOrLoad(KEY, { bytes: 59 }, load);
    expect(d.source).toBe('hit');
    expect(d.value).toBe(made[1]);
    d.release();
    expect(c.get(KEY, { bytes: 0 })).toBeUndefined();
    expect(made).toHaveLength(2);
  });

  it('bypasses the cache for a request larger than maxBytes on its own', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxBytes: 100, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const big = await c.getOrLoad(KEY, { bytes: 101 }, load);
    expect(big.source).toBe('bypass');
    expect(c.size).toBe(0);
    big.release();
    expect(zeroed(made[0]!.plaintext)).toBe(true);
  });

  it('hands an entry out up to maxAgeMs - 1 ms after loading, never at maxAgeMs', async () => {
    const t = clock();
    const c = make({ maxEntries: 10, maxAgeMs: 1_000, clock: t, sweepIntervalMs: 0 });
    const { load, made } = loader();
    (await c.getOrLoad(KEY, { bytes: 1 }, load)).release();
    t.advance(999);
    const hit = c.get(KEY, { bytes: 1 });
    expect(hit?.value).toBe(made[0]);
    hit?.release();
    t.advance(1);
    expect(c.get(KEY, { bytes: 1 })).toBeUndefined();
    expect(zeroed(made[0]!.plaintext)).toBe(true);
  });

  it('keeps message budgets exact under 100 concurrent callers', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxMessages: 7, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const leases = await Promise.all(
      Array.from({ length: 100 }, () => c.getOrLoad(KEY, { bytes: 1 }, load)),
    );
    const perKey = new Map<DataKey, number>();
    for (const l of leases) perKey.set(l.value, (perKey.get(l.value) ?? 0) + 1);
    expect(made).toHaveLength(Math.ceil(100 / 7));
    for (const n of perKey.values()) expect(n).toBeLessThanOrEqual(7);
    for (const l of leases) l.release();
  });

  it('rejects limits above 2^32 messages and other unusable options, naming the option', () => {
    const bad: [string, () => unknown][] = [
      [
        'maxMessages',
        () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 1, maxMessages: 2 ** 32 + 1 }),
      ],
      ['maxMessages', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 1, maxMessages: 0 })],
      ['maxEntries', () => new DataKeyCache({ maxEntries: 0, maxAgeMs: 1 })],
      ['maxAgeMs', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: Infinity })],
      ['maxBytes', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 1, maxBytes: 1.5 })],
      [
        'refreshAheadMs',
        () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 10, refreshAheadMs: 10 }),
      ],
    ];
    for (const [name, f] of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(InvalidOptionError.is(err), name).toBe(true);
      expect((err as Error).message).toContain(name);
    }
    const ok = make({ maxEntries: 1, maxAgeMs: 1, maxMessages: MAX_MESSAGES_PER_DATA_KEY });
    expect(ok.maxMessages).toBe(2 ** 32);
  });

  it('makes a cache without capacity or age, or of an unknown value without zero, a type error', () => {
    // @ts-expect-error maxEntries is required: an unbounded cache of keys does not compile
    expect(() => new DataKeyCache({ maxAgeMs: 1 })).toThrow(InvalidOptionError);
    // @ts-expect-error maxAgeMs is required
    expect(() => new DataKeyCache({ maxEntries: 1 })).toThrow(InvalidOptionError);
    // @ts-expect-error a value type the cache cannot wipe needs a zero hook
    const c = make<{ keys: Uint8Array[] }>({ maxEntries: 1, maxAgeMs: 1 });
    expect(c.size).toBe(0);
  });
});

describe('DataKeyCache zeroing', () => {
  it('zeroes the evicted buffer when capacity pushes the least recently used entry out', async () => {
    const c = make({ maxEntries: 2, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const { load, made } = loader();
    for (const keyId of ['a', 'b', 'c'])
      (await c.getOrLoad({ keyId }, { bytes: 1 }, load)).release();
    expect(zeroed(made[0]!.plaintext)).toBe(true);
    expect(zeroed(made[1]!.plaintext)).toBe(false);
    expect(zeroed(made[2]!.plaintext)).toBe(false);
  });

  it('zeroes on delete and clear, and defers zeroing while a lease holds the key', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const held = await c.getOrLoad(KEY, { bytes: 1 }, load);
    expect(c.delete(KEY)).toBe(true);
    expect(zeroed(made[0]!.plaintext)).toBe(false);
    held.release();
    expect(zeroed(made[0]!.plaintext)).toBe(true);
    (await c.getOrLoad(KEY, { bytes: 1 }, load)).release();
    c.clear();
    expect(zeroed(made[1]!.plaintext)).toBe(true);
  });

  it('zeroes an entry used up by its last message as soon as that lease is released', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxMessages: 2, sweepIntervalMs: 0 });
    const { load, made } = loader();
    (await c.getOrLoad(KEY, { bytes: 1 }, load)).release();
    const last = await c.getOrLoad(KEY, { bytes: 1 }, load);
    expect(c.size).toBe(0);
    expect(zeroed(made[0]!.plaintext)).toBe(false);
    last.release();
    expect(zeroed(made[0]!.plaintext)).toBe(true);
  });

  it('zeroes expired entries on purge without a lookup', async () => {
    const t = clock();
    const c = make({ maxEntries: 10, maxAgeMs: 100, clock: t, sweepIntervalMs: 0 });
    const { load, made } = loader();
    (await c.getOrLoad(KEY, { bytes: 1 }, load)).release();
    t.advance(100);
    expect(c.purgeStale()).toBe(1);
    expect(zeroed(made[0]!.plaintext)).toBe(true);
  });

  it('calls the zero hook for other value types (decryption materials)', async () => {
    interface Materials {
      readonly keys: Uint8Array[];
    }
    const wiped: Materials[] = [];
    const c = make<Materials>({
      maxEntries: 1,
      maxAgeMs: 60_000,
      sweepIntervalMs: 0,
      zero: (m) => {
        wiped.push(m);
        for (const k of m.keys) k.fill(0);
      },
    });
    const m1 = { keys: [randomBytes(32)] };
    const m2 = { keys: [randomBytes(32)] };
    // messages: 0 — decryption materials carry no message budget.
    (
      await c.getOrLoad({ keyId: 'a' }, { bytes: 0, messages: 0 }, () => Promise.resolve(m1))
    ).release();
    (
      await c.getOrLoad({ keyId: 'b' }, { bytes: 0, messages: 0 }, () => Promise.resolve(m2))
    ).release();
    expect(wiped).toEqual([m1]);
    expect(zeroed(m1.keys[0]!)).toBe(true);
  });
});

describe('DataKeyCache loads', () => {
  it('makes one load for 50 concurrent misses of the same entry', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    let calls = 0;
    let resolve!: (k: DataKey) => void;
    const load = () => {
      calls++;
      return new Promise<DataKey>((r) => (resolve = r));
    };
    const all = Promise.all(Array.from({ length: 50 }, () => c.getOrLoad(KEY, { bytes: 1 }, load)));
    resolve({ plaintext: randomBytes(32), ciphertextBlob: randomBytes(8), keyId: 'k' });
    const leases = await all;
    expect(calls).toBe(1);
    expect(leases.map((l) => l.source).filter((s) => s === 'coalesced')).toHaveLength(49);
    expect(new Set(leases.map((l) => l.value)).size).toBe(1);
  });

  it('rejects every waiter with the load error and caches nothing', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const boom = new Error('KMS said no');
    const load = () => Promise.reject(boom);
    const results = await Promise.allSettled([
      c.getOrLoad(KEY, { bytes: 1 }, load),
      c.getOrLoad(KEY, { bytes: 1 }, load),
    ]);
    expect(
      results.map((r) => (r.status === 'rejected' ? (r.reason as unknown) : undefined)),
    ).toEqual([boom, boom]);
    expect(c.size).toBe(0);
  });

  it('lets an aborting waiter go at once while the load serves the others', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    let resolve!: (k: DataKey) => void;
    const load = () => new Promise<DataKey>((r) => (resolve = r));
    const ac = new AbortController();
    const first = c.getOrLoad(KEY, { bytes: 1 }, load, { signal: ac.signal });
    const second = c.getOrLoad(KEY, { bytes: 1 }, load);
    ac.abort();
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    resolve({ plaintext: randomBytes(32), ciphertextBlob: randomBytes(8), keyId: 'k' });
    expect((await second).source).toBe('coalesced');
    expect(c.stats().loads).toBe(1);
  });
});

describe('DataKeyCache use and clear', () => {
  it('releases the lease when the callback settles, even when it throws', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const { load, made } = loader();
    await c.use(KEY, { bytes: 1 }, load, () => 'ok');
    c.delete(KEY);
    expect(zeroed(made[0]!.plaintext)).toBe(true);
    await expect(
      c.use(KEY, { bytes: 1 }, load, () => {
        throw new Error('encrypt failed');
      }),
    ).rejects.toThrow('encrypt failed');
    c.delete(KEY);
    expect(zeroed(made[1]!.plaintext)).toBe(true);
  });

  it('does not cache a load that was in flight when the cache was cleared', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    let resolve!: (k: DataKey) => void;
    const pending = c.getOrLoad(
      KEY,
      { bytes: 1 },
      () => new Promise<DataKey>((r) => (resolve = r)),
    );
    c.clear();
    const key = { plaintext: randomBytes(32), ciphertextBlob: randomBytes(8), keyId: 'k' };
    resolve(key);
    const lease = await pending;
    expect(lease.value).toBe(key);
    expect(c.size).toBe(0);
    lease.release();
    expect(zeroed(key.plaintext)).toBe(true);
  });
});

describe('DataKeyCache refresh-ahead', () => {
  it('renews a hot entry in the background before it expires and never hands out an expired key', async () => {
    const t = clock();
    const c = make({
      maxEntries: 10,
      maxAgeMs: 1_000,
      refreshAheadMs: 200,
      clock: t,
      sweepIntervalMs: 0,
    });
    const { load, made } = loader();
    (await c.getOrLoad(KEY, { bytes: 1 }, load)).release();
    t.advance(799);
    const before = await c.getOrLoad(KEY, { bytes: 1 }, load);
    expect(before.source).toBe('hit');
    expect(made).toHaveLength(1); // 201 ms left: not yet in the window
    before.release();
    t.advance(1); // 200 ms left: the next hit starts a refresh
    const during = await c.getOrLoad(KEY, { bytes: 1 }, load);
    expect(during.source).toBe('hit');
    expect(during.value).toBe(made[0]); // the caller is not held up by the refresh
    expect(made).toHaveLength(2);
    await new Promise((r) => setImmediate(r));
    t.advance(199); // the old key would have 1 ms left; the renewed one is in place
    const after = await c.getOrLoad(KEY, { bytes: 1 }, load);
    expect(after.source).toBe('hit');
    expect(after.value).toBe(made[1]);
    during.release();
    expect(zeroed(made[0]!.plaintext)).toBe(true);
    after.release();
    expect(c.stats().refreshes).toBe(1);
  });

  it('joins a refresh still in flight instead of loading again or serving the expired key', async () => {
    const t = clock();
    const c = make({
      maxEntries: 10,
      maxAgeMs: 1_000,
      refreshAheadMs: 500,
      clock: t,
      sweepIntervalMs: 0,
    });
    const pending: ((k: DataKey) => void)[] = [];
    const keys: DataKey[] = [];
    const load = () =>
      new Promise<DataKey>((r) => {
        pending.push((k) => {
          keys.push(k);
          r(k);
        });
      });
    const fresh = () => ({
      plaintext: randomBytes(32),
      ciphertextBlob: randomBytes(8),
      keyId: 'k',
    });
    const first = c.getOrLoad(KEY, { bytes: 1 }, load);
    pending.shift()!(fresh());
    (await first).release();
    t.advance(600);
    (await c.getOrLoad(KEY, { bytes: 1 }, load)).release(); // starts the refresh
    expect(pending).toHaveLength(1);
    t.advance(400); // the old entry is now expired; the refresh has not answered
    const waiting = c.getOrLoad(KEY, { bytes: 1 }, load);
    expect(pending).toHaveLength(1);
    pending.shift()!(fresh());
    const lease = await waiting;
    expect(lease.source).toBe('coalesced');
    expect(lease.value).toBe(keys[1]);
    expect(zeroed(keys[0]!.plaintext)).toBe(true);
  });
});

describe('DataKeyCache events', () => {
  const seen: CacheMessage[] = [];
  const listener = (m: unknown) => seen.push(m as CacheMessage);
  afterEach(() => {
    unsubscribe(CHANNEL_NAMES.cache, listener);
    seen.length = 0;
  });

  it('publishes miss, hit, coalesced, evict and expire with identifiers only', async () => {
    subscribe(CHANNEL_NAMES.cache, listener);
    const t = clock();
    const c = make({ maxEntries: 1, maxAgeMs: 100, maxMessages: 3, clock: t, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const [a, b] = await Promise.all([
      c.getOrLoad(KEY, { bytes: 1 }, load, { operationId: 7 }),
      c.getOrLoad(KEY, { bytes: 1 }, load),
    ]);
    a.release();
    b.release();
    (await c.getOrLoad(KEY, { bytes: 1 }, load)).release(); // hit, then used up: evict maxMessages
    (await c.getOrLoad({ keyId: 'other' }, { bytes: 1 }, load)).release();
    (await c.getOrLoad(KEY, { bytes: 1 }, load)).release(); // evicts 'other' for capacity
    t.advance(100);
    expect(c.get(KEY, { bytes: 1 })).toBeUndefined(); // expire
    expect(seen.map((m) => `${m.event}:${m.reason ?? ''}`)).toEqual([
      'miss:',
      'coalesced:',
      'hit:',
      'evict:maxMessages',
      'miss:',
      'miss:',
      'evict:capacity',
      'expire:maxAge',
    ]);
    expect(seen[0]).toEqual({
      cache: 'data-key',
      event: 'miss',
      operation: undefined,
      operationId: 7,
      keyId: 'alias/test',
      reason: undefined,
    });
    const text = JSON.stringify(seen);
    for (const k of made) {
      expect(text).not.toContain(Buffer.from(k.plaintext).toString('base64'));
      expect(text).not.toContain(Buffer.from(k.ciphertextBlob).toString('base64'));
    }
    expect(text).not.toContain('tenant');
  });
});
