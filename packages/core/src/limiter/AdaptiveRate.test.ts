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
   * A pool configured at 200 rps against a server that admits only 120 per one-second window (another
   * consumer uses the rest). 64 callers loop for 40 simulated seconds; answers take 2 ms.
   */
  it('converges to a lower real quota: goodput at least 90% of it, throttles under 3%', async () => {
    const clock = new FakeClock(1_000_000);
    const limiter = new PoolLimiter(
      { accountId: 'a', region: 'r', pool: 'symmetric' },
      200,
      1,
      clock,
      clock.sleep,
    );
    const REAL = 120;
    const windows = new Map<number, number>();
    const ok: number[] = [];
    let throttled = 0;
    let throttledLate = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        await limiter.acquire({});
        const grantedAt = clock.now();
        await clock.sleep(2);
        const w = Math.floor(grantedAt / 1000);
        const used = windows.get(w) ?? 0;
        if (used >= REAL) {
          throttled++;
          if (grantedAt >= 1_005_000) throttledLate++;
          limiter.onThrottle(grantedAt);
        } else {
          windows.set(w, used + 1);
          ok.push(grantedAt);
        }
      }
    };
    const workers = Array.from({ length: 64 }, worker);
    await clock.advance(40_000);
    stop = true;
    await clock.advance(2_000);
    await Promise.all(workers);
    // After 5 s of convergence: at least 90% of the real quota, and few throttles.
    const late = ok.filter((t) => t >= 1_005_000 && t < 1_040_000).length;
    expect(late / 35).toBeGreaterThanOrEqual(0.9 * REAL);
    expect(throttledLate / (late + throttledLate)).toBeLessThan(0.03);
    expect(throttled).toBeGreaterThan(0);
    expect(limiter.rate()).toBeLessThan(200);
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
});
