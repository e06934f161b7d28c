import { describe, expect, it } from 'vitest';
import { Coalescer } from './Coalescer.js';

interface Box {
  bytes: Uint8Array;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function coalescer() {
  const discarded: Box[] = [];
  const c = new Coalescer<Box>({
    share: (b) => ({ bytes: b.bytes.slice() }),
    discard: (b) => {
      b.bytes.fill(0);
      discarded.push(b);
    },
  });
  return { c, discarded };
}

describe('Coalescer', () => {
  it('runs one call for identical concurrent callers and gives each its own copy', async () => {
    const { c, discarded } = coalescer();
    let starts = 0;
    const d = deferred<Box>();
    const start = () => {
      starts++;
      return d.promise;
    };
    const runs = Array.from({ length: 10 }, () => c.run('k', { start }));
    expect(runs.map((r) => r.joined)).toEqual([false, ...Array<boolean>(9).fill(true)]);
    const original = { bytes: new Uint8Array([1, 2, 3]) };
    d.resolve(original);
    const results = await Promise.all(runs.map((r) => r.result));
    expect(starts).toBe(1);
    expect(new Set(results).size).toBe(10);
    for (const r of results) expect([...r.bytes]).toEqual([1, 2, 3]);
    expect(discarded).toEqual([original]);
    expect([...original.bytes]).toEqual([0, 0, 0]);
    expect(c.inFlight).toBe(0);
  });

  it('keeps different keys apart and forgets a key once it settles', async () => {
    const { c } = coalescer();
    let starts = 0;
    const start = () => {
      starts++;
      return Promise.resolve({ bytes: new Uint8Array(1) });
    };
    await Promise.all([c.run('a', { start }).result, c.run('b', { start }).result]);
    await c.run('a', { start }).result;
    expect(starts).toBe(3);
  });

  it('gives every caller the error of the shared call', async () => {
    const { c } = coalescer();
    const boom = new Error('no');
    const start = () => Promise.reject(boom);
    const all = await Promise.allSettled([
      c.run('k', { start }).result,
      c.run('k', { start }).result,
    ]);
    expect(all.map((r) => (r.status === 'rejected' ? (r.reason as unknown) : undefined))).toEqual([
      boom,
      boom,
    ]);
  });

  it('lets a waiting caller abort promptly while the call runs on for the others', async () => {
    const { c } = coalescer();
    const d = deferred<Box>();
    let starts = 0;
    const start = () => {
      starts++;
      return d.promise;
    };
    const ac = new AbortController();
    const leader = c.run('k', { start });
    const quitter = c.run('k', { start, signal: ac.signal });
    const stayer = c.run('k', { start });
    ac.abort();
    await expect(quitter.result).rejects.toMatchObject({ name: 'AbortError' });
    d.resolve({ bytes: new Uint8Array([9]) });
    expect([...(await leader.result).bytes]).toEqual([9]);
    expect([...(await stayer.result).bytes]).toEqual([9]);
    expect(starts).toBe(1);
  });

  it('hands the call to the next caller when the one running it aborts and its call dies', async () => {
    const { c } = coalescer();
    const ac = new AbortController();
    const first = deferred<Box>();
    ac.signal.addEventListener('abort', () => {
      const e = new Error('Request aborted');
      e.name = 'AbortError';
      first.reject(e); // what the SDK's HTTP handler does to the runner's request
    });
    const second = deferred<Box>();
    let tookOver = 0;
    const leader = c.run('k', { start: () => first.promise, signal: ac.signal });
    const follower = c.run('k', {
      start: () => second.promise,
      onTakeover: () => tookOver++,
    });
    ac.abort();
    await expect(leader.result).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setImmediate(r));
    expect(tookOver).toBe(1);
    second.resolve({ bytes: new Uint8Array([4]) });
    expect([...(await follower.result).bytes]).toEqual([4]);
  });

  it('rejects at once for a signal that is already aborted, without starting anything', async () => {
    const { c } = coalescer();
    let starts = 0;
    const r = c.run('k', {
      start: () => {
        starts++;
        return Promise.resolve({ bytes: new Uint8Array(0) });
      },
      signal: AbortSignal.abort(),
    });
    await expect(r.result).rejects.toMatchObject({ name: 'AbortError' });
    expect(starts).toBe(0);
  });
});
