import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import type { DataKeyCacheKey } from './cacheKey.js';
import { DataKeyCache, type DataKey } from './DataKeyCache.js';

// Cases an independent review ran against the data-key cache beyond its first tests: exact budgets of
// one, requests larger than a whole budget, failed renewals, delete/clear racing a load, and bad input.

function clock(start = 1_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

const KEY: DataKeyCacheKey = { keyId: 'alias/test', encryptionContext: { tenant: 'a', app: 'b' } };

function fresh(): DataKey {
  return { plaintext: randomBytes(32), ciphertextBlob: randomBytes(64), keyId: 'arn:k' };
}

function loader() {
  const made: DataKey[] = [];
  const load = (): Promise<DataKey> => {
    const k = fresh();
    made.push(k);
    return Promise.resolve(k);
  };
  return { load, made };
}

/** A load whose answers the test hands out one by one. */
function manualLoader() {
  const pending: { resolve: (k: DataKey) => void; reject: (e: unknown) => void }[] = [];
  let calls = 0;
  const load = () => {
    calls++;
    return new Promise<DataKey>((resolve, reject) => pending.push({ resolve, reject }));
  };
  return { load, pending, calls: () => calls };
}

const zeroed = (b: Uint8Array) => b.every((x) => x === 0);
const tick = () => new Promise((r) => setImmediate(r));

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

describe('DataKeyCache at the exact message limit', () => {
  it('with maxMessages 1 hands each key out once, never caches it, and zeroes it on release', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxMessages: 1, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const leases = await Promise.all(
      Array.from({ length: 5 }, () => c.getOrLoad(KEY, { bytes: 1 }, load)),
    );
    expect(made).toHaveLength(5);
    expect(new Set(leases.map((l) => l.value)).size).toBe(5);
    expect(c.size).toBe(0);
    for (const l of leases) l.release();
    for (const k of made) expect(zeroed(k.plaintext)).toBe(true);
  });

  it('serves a request of exactly maxMessages messages from one key, and one more message bypasses', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxMessages: 10, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const all = await c.getOrLoad(KEY, { bytes: 1, messages: 10 }, load);
    expect(all.source).toBe('miss');
    expect(c.size).toBe(0); // used up on arrival: never handed out again
    all.release();
    expect(zeroed(made[0]!.plaintext)).toBe(true);
    const over = await c.getOrLoad(KEY, { bytes: 1, messages: 11 }, load);
    expect(over.source).toBe('bypass');
    over.release();
    expect(made).toHaveLength(2);
  });
});

describe('DataKeyCache with a request larger than maxBytes', () => {
  it('gives each such request its own key, one load each, never cached, and keeps serving small ones', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxBytes: 100, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const small = await c.getOrLoad(KEY, { bytes: 10 }, load);
    const bigs = await Promise.all(
      Array.from({ length: 3 }, () => c.getOrLoad(KEY, { bytes: 1_000 }, load)),
    );
    expect(bigs.map((l) => l.source)).toEqual(['bypass', 'bypass', 'bypass']);
    expect(made).toHaveLength(4);
    for (const b of bigs) expect(b.value).not.toBe(small.value);
    for (const b of bigs) b.release();
    for (const k of made.slice(1)) expect(zeroed(k.plaintext)).toBe(true);
    const again = await c.getOrLoad(KEY, { bytes: 10 }, load);
    expect(again.source).toBe('hit');
    expect(again.value).toBe(small.value);
    small.release();
    again.release();
    expect(made).toHaveLength(4);
  });

  it('never hands the cached key to a waiter whose request no longer fits, and does not loop', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxBytes: 100, sweepIntervalMs: 0 });
    const m = manualLoader();
    // Three concurrent misses of 60 bytes: one key can serve only one of them.
    const waits = Array.from({ length: 3 }, () => c.getOrLoad(KEY, { bytes: 60 }, m.load));
    for (let i = 0; i < 3; i++) {
      await tick();
      m.pending.shift()?.resolve(fresh());
    }
    const leases = await Promise.all(waits);
    expect(m.calls()).toBe(3);
    expect(new Set(leases.map((l) => l.value)).size).toBe(3);
    for (const l of leases) l.release();
  });
});

describe('DataKeyCache refresh-ahead when the renewal fails', () => {
  it('retries the renewal on a later hit, so a transient KMS error does not let the entry expire', async () => {
    const t = clock();
    const c = make({
      maxEntries: 10,
      maxAgeMs: 1_000,
      refreshAheadMs: 400,
      clock: t,
      sweepIntervalMs: 0,
    });
    const m = manualLoader();
    const first = c.getOrLoad(KEY, { bytes: 1 }, m.load);
    m.pending.shift()!.resolve(fresh());
    (await first).release();
    t.advance(600); // 400 ms left: the hit starts a renewal
    (await c.getOrLoad(KEY, { bytes: 1 }, m.load)).release();
    expect(m.calls()).toBe(2);
    m.pending.shift()!.reject(new Error('ThrottlingException'));
    await tick();
    t.advance(50); // within a quarter of the window of the failure: no new attempt yet
    (await c.getOrLoad(KEY, { bytes: 1 }, m.load)).release();
    expect(m.calls()).toBe(2);
    t.advance(50); // a quarter of the window (100 ms) after the failure: retried
    (await c.getOrLoad(KEY, { bytes: 1 }, m.load)).release();
    expect(m.calls()).toBe(3);
    const renewed = fresh();
    m.pending.shift()!.resolve(renewed);
    await tick();
    t.advance(300); // the first key has expired by now; the renewed one serves without a wait
    const lease = await c.getOrLoad(KEY, { bytes: 1 }, m.load);
    expect(lease.source).toBe('hit');
    expect(lease.value).toBe(renewed);
    lease.release();
    expect(c.stats().refreshes).toBe(2);
  });
});

describe('DataKeyCache delete and clear while a load is in flight', () => {
  it('after delete(), a new caller does not get the key loaded before it, and it is not cached', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const m = manualLoader();
    const before = c.getOrLoad(KEY, { bytes: 1 }, m.load);
    c.delete(KEY);
    const after = c.getOrLoad(KEY, { bytes: 1 }, m.load);
    expect(m.calls()).toBe(2);
    const old = fresh();
    const renewed = fresh();
    m.pending[0]!.resolve(old);
    m.pending[1]!.resolve(renewed);
    const [b, a] = await Promise.all([before, after]);
    expect(b.value).toBe(old);
    expect(a.value).toBe(renewed);
    b.release();
    expect(zeroed(old.plaintext)).toBe(true);
    a.release();
    const hit = c.get(KEY, { bytes: 1 });
    expect(hit?.value).toBe(renewed);
    hit?.release();
  });

  it('after clear(), a new caller starts its own load', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const m = manualLoader();
    const before = c.getOrLoad(KEY, { bytes: 1 }, m.load);
    c.clear();
    const after = c.getOrLoad(KEY, { bytes: 1 }, m.load);
    expect(m.calls()).toBe(2);
    for (const p of m.pending) p.resolve(fresh());
    const [b, a] = await Promise.all([before, after]);
    expect(a.source).toBe('miss');
    expect(a.value).not.toBe(b.value);
    b.release();
    a.release();
    expect(c.size).toBe(1);
  });

  it('a renewal in flight when its entry is deleted is not installed', async () => {
    const t = clock();
    const c = make({
      maxEntries: 10,
      maxAgeMs: 1_000,
      refreshAheadMs: 500,
      clock: t,
      sweepIntervalMs: 0,
    });
    const m = manualLoader();
    const first = c.getOrLoad(KEY, { bytes: 1 }, m.load);
    m.pending.shift()!.resolve(fresh());
    (await first).release();
    t.advance(600);
    (await c.getOrLoad(KEY, { bytes: 1 }, m.load)).release(); // starts a renewal
    c.delete(KEY);
    const late = fresh();
    m.pending.shift()!.resolve(late);
    await tick();
    expect(c.size).toBe(0);
    expect(zeroed(late.plaintext)).toBe(true);
  });
});

describe('DataKeyCache keys', () => {
  it('shares an entry between the same context pairs written in another order, and only those', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const { load, made } = loader();
    const use = async (encryptionContext: Record<string, string>) => {
      const l = await c.getOrLoad({ keyId: 'k', encryptionContext }, { bytes: 1 }, load);
      l.release();
      return l.value;
    };
    const a = await use({ tenant: 'a', app: 'b' });
    expect(await use({ app: 'b', tenant: 'a' })).toBe(a);
    expect(await use({ tenant: 'a', app: 'c' })).not.toBe(a); // another value
    expect(await use({ tenant: 'a', apx: 'b' })).not.toBe(a); // another key
    expect(await use({ tenant: 'a', app: 'b', x: '' })).not.toBe(a); // one more pair
    expect(await use({ tenant: 'a' })).not.toBe(a); // one pair fewer
    expect(made).toHaveLength(5);
  });

  it('makes one load for 64 concurrent misses, whatever order each caller wrote the context in', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const m = manualLoader();
    const waits = Array.from({ length: 64 }, (_, i) =>
      c.getOrLoad(
        { keyId: 'k', encryptionContext: i % 2 ? { a: '1', b: '2' } : { b: '2', a: '1' } },
        { bytes: 1 },
        m.load,
      ),
    );
    m.pending.shift()!.resolve(fresh());
    const leases = await Promise.all(waits);
    expect(m.calls()).toBe(1);
    expect(new Set(leases.map((l) => l.value)).size).toBe(1);
    for (const l of leases) l.release();
  });
});

describe('DataKeyCache failures and aborts', () => {
  it('rejects every waiter when load() throws synchronously, and caches nothing', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const boom = new Error('bad load');
    const load = (): Promise<DataKey> => {
      throw boom;
    };
    const results = await Promise.allSettled([
      c.getOrLoad(KEY, { bytes: 1 }, load),
      c.getOrLoad(KEY, { bytes: 1 }, load),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(c.size).toBe(0);
  });

  it('keeps loading when every waiter aborts, and caches the key for the next caller', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const m = manualLoader();
    const acs = [new AbortController(), new AbortController()];
    const waits = acs.map((ac) => c.getOrLoad(KEY, { bytes: 1 }, m.load, { signal: ac.signal }));
    for (const ac of acs) ac.abort();
    for (const w of waits) await expect(w).rejects.toMatchObject({ name: 'AbortError' });
    const key = fresh();
    m.pending.shift()!.resolve(key);
    await tick();
    const next = await c.getOrLoad(KEY, { bytes: 1 }, m.load);
    expect(next.source).toBe('hit');
    expect(next.value).toBe(key);
    expect(m.calls()).toBe(1);
    next.release();
  });

  it('zeroes a bypass key that arrives after its caller aborted', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, maxBytes: 10, sweepIntervalMs: 0 });
    const m = manualLoader();
    const ac = new AbortController();
    const w = c.getOrLoad(KEY, { bytes: 11 }, m.load, { signal: ac.signal });
    ac.abort();
    await expect(w).rejects.toMatchObject({ name: 'AbortError' });
    const key = fresh();
    m.pending.shift()!.resolve(key);
    await tick();
    expect(zeroed(key.plaintext)).toBe(true);
  });
});

describe('DataKeyCache input checks', () => {
  it('reports bad arguments of getOrLoad as a rejection naming them, never a synchronous throw', async () => {
    const c = make({ maxEntries: 10, maxAgeMs: 60_000, sweepIntervalMs: 0 });
    const { load } = loader();
    const calls: [string, () => Promise<unknown>][] = [
      ['usage.bytes', () => c.getOrLoad(KEY, { bytes: -1 }, load)],
      ['usage.messages', () => c.getOrLoad(KEY, { bytes: 1, messages: 0.5 }, load)],
      ['key.keyId', () => c.getOrLoad({} as DataKeyCacheKey, { bytes: 1 }, load)],
      ['load', () => c.getOrLoad(KEY, { bytes: 1 }, undefined as never)],
    ];
    for (const [name, call] of calls) {
      let p: Promise<unknown> | undefined;
      expect(() => (p = call()), name).not.toThrow();
      const err = await p!.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(InvalidOptionError.is(err), name).toBe(true);
      expect((err as Error).message).toContain(name);
    }
  });

  it('rejects a non-integer or out-of-range limit and a clock without now(), naming the option', () => {
    const bad: [string, () => unknown][] = [
      ['maxMessages', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 1, maxMessages: 1.5 })],
      ['maxMessages', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 1, maxMessages: NaN })],
      ['maxMessages', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 1, maxMessages: 2 ** 33 })],
      ['maxAgeMs', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: -1 })],
      ['maxEntries', () => new DataKeyCache({ maxEntries: 2.5, maxAgeMs: 1 })],
      ['maxBytes', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 1, maxBytes: -1 })],
      [
        'refreshAheadMs',
        () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 10, refreshAheadMs: -1 }),
      ],
      [
        'sweepIntervalMs',
        () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 10, sweepIntervalMs: -1 }),
      ],
      ['clock', () => new DataKeyCache({ maxEntries: 1, maxAgeMs: 10, clock: {} as never })],
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
