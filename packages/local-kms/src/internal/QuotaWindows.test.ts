import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveQuotas } from '@steadykms/core';
import { QuotaWindows } from './QuotaWindows.js';

const sym = { pool: 'symmetric', region: 'r', cost: 1 } as const;

describe('QuotaWindows', () => {
  it('admits floor(rps) per clock-aligned second and resets at the boundary', () => {
    const w = new QuotaWindows(resolveQuotas({ overrides: { symmetric: 3 } }));
    const admitted = [0, 1, 2, 3].map(() => w.tryAcquire([sym], 5_100) === undefined);
    expect(admitted).toEqual([true, true, true, false]);
    expect(w.tryAcquire([sym], 5_999)).toEqual(sym);
    expect(w.tryAcquire([sym], 6_000)).toBeUndefined();
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

  it('never admits more than floor(rps) in any window (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
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
          for (const n of perWindow.values()) expect(n).toBeLessThanOrEqual(rps);
        },
      ),
    );
  });
});
