import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveQuotas } from '@steadykms/core';
import { QuotaWindows, windowCapacity } from './QuotaWindows.js';

const sym = { pool: 'symmetric', region: 'r', cost: 1 } as const;

describe('QuotaWindows', () => {
  it('admits rps per clock-aligned second and resets at the boundary', () => {
    const w = new QuotaWindows(resolveQuotas({ overrides: { symmetric: 3 } }));
    const admitted = [0, 1, 2, 3].map(() => w.tryAcquire([sym], 5_100) === undefined);
    expect(admitted).toEqual([true, true, true, false]);
    expect(w.tryAcquire([sym], 5_999)).toEqual(sym);
    expect(w.tryAcquire([sym], 6_000)).toBeUndefined();
  });

  it('spreads a fractional quota so the long-run rate is exact', () => {
    expect([0, 1, 2, 3].map((k) => windowCapacity(1.5, k))).toEqual([2, 1, 2, 1]);
    expect([5, 7, 20].map((k) => windowCapacity(7, k))).toEqual([7, 7, 7]);
    const third = Array.from({ length: 300 }, (_, k) =>
      windowCapacity(1 / 3 + 1, 1_764_000_000 + k),
    );
    expect(third.reduce((a, b) => a + b, 0)).toBe(400);
    expect(Math.max(...third)).toBe(2);
    expect(windowCapacity(Number.POSITIVE_INFINITY, 3)).toBe(Number.POSITIVE_INFINITY);
  });

  it('turns a quota below 1 rps into one request per 1/rps seconds', () => {
    const w = new QuotaWindows(resolveQuotas({ overrides: { symmetric: 0.5 } }));
    expect(w.tryAcquire([sym], 0)).toBeUndefined();
    expect(w.tryAcquire([sym], 1_500)).toEqual(sym);
    expect(w.tryAcquire([sym], 2_000)).toBeUndefined();
  });

  it('debits every charge or none', () => {
    const w = new QuotaWindows(
      resolveQuotas({ overrides: { symmetric: 1, 'custom-key-store/c': 5 } }),
    );
    const cks = { pool: 'custom-key-store/c', region: 'r', cost: 1 } as const;
    expect(w.tryAcquire([cks, sym], 0)).toBeUndefined();
    // symmetric is full: the custom key store pool must not be debited by the rejected call.
    for (let i = 0; i < 10; i++) expect(w.tryAcquire([cks, sym], 0)).toEqual(sym);
    for (let i = 0; i < 4; i++) expect(w.tryAcquire([cks], 0)).toBeUndefined();
    expect(w.tryAcquire([cks], 0)).toEqual(cks);
  });

  it('keeps regions apart', () => {
    const w = new QuotaWindows(resolveQuotas({ overrides: { symmetric: 1 } }));
    expect(w.tryAcquire([sym], 0)).toBeUndefined();
    expect(w.tryAcquire([{ ...sym, region: 'other' }], 0)).toBeUndefined();
    expect(w.tryAcquire([sym], 0)).toEqual(sym);
  });

  it('never admits more than ceil(rps) in any window, nor more than rps per second over time (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0.05, max: 50, noNaN: true })),
        fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 300 }),
        (rps, deltas) => {
          const w = new QuotaWindows(resolveQuotas({ overrides: { symmetric: rps } }));
          const perWindow = new Map<number, number>();
          let t = 0;
          for (const d of deltas.map((x) => x % 700)) {
            t += d;
            if (w.tryAcquire([sym], t) === undefined) {
              const k = Math.floor(t / 1000);
              perWindow.set(k, (perWindow.get(k) ?? 0) + 1);
            }
          }
          for (const n of perWindow.values()) expect(n).toBeLessThanOrEqual(Math.ceil(rps));
          const total = [...perWindow.values()].reduce((a, b) => a + b, 0);
          const seconds = Math.floor(t / 1000) + 1;
          expect(total).toBeLessThanOrEqual(Math.ceil(seconds * rps) + 1);
        },
      ),
    );
  });
});
