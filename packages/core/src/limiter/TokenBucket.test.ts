import { describe, expect, it } from 'vitest';
import { AbortedError, DeadlineExceededError } from '../errors.js';
import { FakeClock } from '../internal/FakeClock.js';
import { TokenBucket } from './TokenBucket.js';

function bucket(rps: number, clock = new FakeClock(0)): { clock: FakeClock; b: TokenBucket } {
  return { clock, b: new TokenBucket({ clock, sleep: clock.sleep, rate: () => rps }) };
}

/** The largest number of grants in any one-second window [t, t + 1000), over every start t. */
function maxInAnySecond(times: readonly number[]): number {
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while ((times[hi] as number) - (times[lo] as number) >= 1000) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

describe('TokenBucket', () => {
  it('paces evenly inside each second: no burst at a window edge', async () => {
    const { clock, b } = bucket(100);
    const granted: number[] = [];
    const all = Array.from({ length: 300 }, () =>
      b.acquire().then(() => granted.push(clock.now())),
    );
    await clock.advance(3500);
    await Promise.all(all);
    expect(granted).toHaveLength(300);
    const gaps = granted.slice(1).map((t, i) => t - (granted[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(9.5);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(10.5);
    // Any one-second window, wherever it starts, holds at most the rate.
    expect(maxInAnySecond(granted)).toBeLessThanOrEqual(100);
  });

  it('grants at once when idle, without banking credit for the idle time', async () => {
    const { clock, b } = bucket(10);
    await b.acquire();
    await clock.advance(5000);
    const granted: number[] = [];
    const all = Array.from({ length: 3 }, () => b.acquire().then(() => granted.push(clock.now())));
    await clock.advance(1000);
    await Promise.all(all);
    expect(granted.map((t) => t - (granted[0] as number))).toEqual([0, 100, 200]);
  });

  it('serves waiters first come, first served', async () => {
    const { clock, b } = bucket(50);
    const order: number[] = [];
    const all = Array.from({ length: 40 }, (_, i) => b.acquire().then(() => order.push(i)));
    await clock.advance(1000);
    await Promise.all(all);
    expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('serves the interactive lane before the batch lane', async () => {
    const { clock, b } = bucket(10);
    const order: string[] = [];
    const batch = Array.from({ length: 5 }, (_, i) =>
      b.acquire({ priority: 'batch' }).then(() => order.push(`b${i}`)),
    );
    await clock.advance(150); // b0 granted at once, b1 at 100 ms
    const interactive = Array.from({ length: 3 }, (_, i) =>
      b.acquire({ priority: 'interactive' }).then(() => order.push(`i${i}`)),
    );
    await clock.advance(2000);
    await Promise.all([...batch, ...interactive]);
    expect(order).toEqual(['b0', 'b1', 'i0', 'i1', 'i2', 'b2', 'b3', 'b4']);
  });

  it('rejects an aborted waiter with AbortedError and gives its slot to the next', async () => {
    const { clock, b } = bucket(10);
    await b.acquire();
    const controller = new AbortController();
    const aborted = b.acquire({ signal: controller.signal });
    const after: number[] = [];
    const next = b.acquire().then(() => after.push(clock.now()));
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toSatisfy((e) => AbortedError.is(e));
    const start = clock.now();
    await clock.advance(500);
    await next;
    expect(after[0]! - start).toBeLessThanOrEqual(100);
    await expect(b.acquire({ signal: AbortSignal.abort() })).rejects.toSatisfy((e) =>
      AbortedError.is(e),
    );
  });

  it('fails fast with DeadlineExceededError when the wait would pass the deadline', async () => {
    const { clock, b } = bucket(10);
    const queued = Array.from({ length: 10 }, () => b.acquire()); // 1 s of slots
    const t0 = clock.now();
    const late = b.acquire({ deadline: t0 + 300 });
    await expect(late).rejects.toSatisfy(
      (e) => DeadlineExceededError.is(e) && (e.wouldWaitMs ?? 0) > 300,
    );
    expect(clock.now()).toBe(t0); // no time passed: it failed before waiting
    // A deadline that the expected wait meets is queued normally.
    const fits = b.acquire({ deadline: t0 + 5000 });
    await clock.advance(2000);
    await expect(fits).resolves.toBeGreaterThan(0);
    await Promise.all(queued);
  });

  it('rejects a batch waiter at its deadline when interactive arrivals keep overtaking it', async () => {
    const { clock, b } = bucket(10);
    await b.acquire();
    const t0 = clock.now();
    const batch = b.acquire({ priority: 'batch', deadline: t0 + 250 });
    const interactive = Array.from({ length: 5 }, () => b.acquire());
    const outcome = batch.then(
      () => 'granted',
      (e: unknown) => (DeadlineExceededError.is(e) ? `deadline@${clock.now() - t0}` : 'other'),
    );
    await clock.advance(1000);
    expect(await outcome).toBe('deadline@250');
    await Promise.all(interactive);
  });

  it('holds every grant until a throttle hold ends', async () => {
    const { clock, b } = bucket(100);
    await b.acquire();
    b.holdUntil(clock.now() + 400);
    const t0 = clock.now();
    const p = b.acquire().then(() => clock.now() - t0);
    await clock.advance(1000);
    expect(await p).toBe(400);
  });
});
