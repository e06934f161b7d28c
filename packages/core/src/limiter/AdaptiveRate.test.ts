import { describe, expect, it } from 'vitest';
import { FakeClock } from '../internal/FakeClock.js';
import { AdaptiveRate } from './AdaptiveRate.js';
import { PoolLimiter } from './PoolLimiter.js';

describe('AdaptiveRate', () => {
  it('decreases multiplicatively on a throttle and climbs back by CUBIC to the ceiling', () => {
    const r = new AdaptiveRate({ ceiling: 200 });
    expect(r.rate(0)).toBe(200);
    expect(r.decrease(1000)).toBeCloseTo(140, 6);
    const state = r.state;
    expect(state.kind).toBe('recovering');
    const k = state.kind === 'recovering' ? state.k : 0;
    expect(k).toBeCloseTo(Math.cbrt((200 * 0.3) / 0.4), 6); // about 5.3 s
    // Concave then flat near the old rate: fast first, then slow.
    const at = (s: number): number => r.rate(1000 + s * 1000);
    expect(at(1) - at(0)).toBeGreaterThan(at(3) - at(2));
    expect(at(k)).toBeCloseTo(199.99, 1);
    // Then convex above it, until it reaches the ceiling and stays there.
    expect(at(k + 10)).toBe(200);
    expect(r.state.kind).toBe('steady');
  });

  it('never drops below its floor', () => {
    const r = new AdaptiveRate({ ceiling: 100, floorFraction: 0.05 });
    for (let i = 0; i < 50; i++) r.decrease(i);
    expect(r.rate(50)).toBe(5);
  });
});

describe('PoolLimiter adaptive pacing (fake clock)', () => {
  /**
   * 64 callers loop against a simulated KMS that admits `real` requests per one-second window, counted
   * at arrival (grant time plus a network delay of up to `jitterMs`); answers take 2 ms.
   */
  async function simulate(configured: number, real: number, jitterMs: number, seconds: number) {
    const clock = new FakeClock(1_000_000);
    const limiter = new PoolLimiter(
      { accountId: 'a', region: 'r', pool: 'symmetric' },
      configured,
      1,
      clock,
      clock.sleep,
    );
    let seed = 42;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const windows = new Map<number, number>();
    const ok: number[] = [];
    const throttled: number[] = [];
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        await limiter.acquire({});
        const grantedAt = clock.now();
        const arrival = grantedAt + random() * jitterMs;
        await clock.sleep(2);
        const w = Math.floor(arrival / 1000);
        const used = windows.get(w) ?? 0;
        if (used >= real) {
          throttled.push(grantedAt);
          limiter.onThrottle(grantedAt);
        } else {
          windows.set(w, used + 1);
          ok.push(grantedAt);
        }
      }
    };
    const workers = Array.from({ length: 64 }, worker);
    await clock.advance(seconds * 1000);
    stop = true;
    await clock.advance(2_000);
    await Promise.all(workers);
    const after = (t0: number, list: number[]) =>
      list.filter((t) => t >= 1_000_000 + t0 && t < 1_000_000 + seconds * 1000).length;
    return { limiter, ok, throttled, after };
  }

  it('converges to a lower real quota: goodput at least 90% of it, throttles under 3%', async () => {
    const { limiter, throttled, after, ok } = await simulate(200, 120, 3, 40);
    const late = after(5_000, ok);
    const lateThrottled = after(5_000, throttled);
    expect(late / 35).toBeGreaterThanOrEqual(0.9 * 120);
    expect(lateThrottled / (late + lateThrottled)).toBeLessThan(0.03);
    expect(throttled.length).toBeGreaterThan(0);
    expect(limiter.rate()).toBeLessThan(200);
  });

  it('keeps at least 98% of the quota when the real quota is the configured one (network jitter)', async () => {
    const { throttled, after, ok } = await simulate(200, 200, 4, 20);
    expect(after(0, ok) / 20).toBeGreaterThanOrEqual(0.98 * 200);
    expect(throttled.length / (ok.length + throttled.length)).toBeLessThanOrEqual(0.005);
  });

  it('recovers to the configured ceiling once throttles stop', async () => {
    const clock = new FakeClock(1_000_000);
    const limiter = new PoolLimiter(
      { accountId: 'a', region: 'r', pool: 'symmetric' },
      100,
      0.5,
      clock,
      clock.sleep,
      { headroom: 0 },
    );
    expect(limiter.rate()).toBe(50);
    // A lone throttle only holds the pool to the end of the window.
    limiter.onThrottle(clock.now());
    expect(limiter.rate()).toBe(50);
    // The next window throttles too: now the rate drops.
    await clock.advance(1_000);
    limiter.onThrottle(clock.now());
    expect(limiter.rate()).toBeCloseTo(35, 6);
    // An echo of the same overload (granted before the reaction) does not lower it again.
    limiter.onThrottle(clock.now() - 1);
    expect(limiter.rate()).toBeCloseTo(35, 6);
    await clock.advance(3_000);
    const mid = limiter.rate();
    expect(mid).toBeGreaterThan(35);
    expect(mid).toBeLessThan(50);
    await clock.advance(20_000);
    expect(limiter.rate()).toBe(50);
  });

  it('holds only to the end of the window the throttled attempt was sent in', async () => {
    const clock = new FakeClock(1_000_900);
    const limiter = new PoolLimiter(
      { accountId: 'a', region: 'r', pool: 'symmetric' },
      100,
      1,
      clock,
      clock.sleep,
      { headroom: 0 },
    );
    await limiter.acquire({});
    const sentAt = clock.now();
    // The throttle is processed 150 ms later, in the next window: that window is not spent.
    await clock.advance(150);
    limiter.onThrottle(sentAt);
    const t0 = clock.now();
    const p = limiter.acquire({}).then(() => clock.now() - t0);
    await clock.advance(100);
    expect(await p).toBe(0);
    // A throttle processed in the window it was sent in holds the pool to that window's end.
    const sent2 = clock.now();
    await limiter.acquire({}); // granted at once: the previous grant was 250 ms ago
    await clock.advance(10);
    limiter.onThrottle(sent2);
    const t1 = clock.now();
    const q = limiter.acquire({}).then(() => clock.now() - t1);
    await clock.advance(1_000);
    expect(await q).toBe(1_002_000 - t1);
  });
});
