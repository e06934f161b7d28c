import { InvalidOptionError } from '@steadykms/core';
import { describe, expect, it } from 'vitest';
import { MONTH_SECONDS, estimateCost } from './estimateCost.js';
import { KMS_PRICES, pricePerRequest, resolvePrices } from './prices.js';

describe('KMS_PRICES', () => {
  it('holds the DESIGN §9 price list with a date', () => {
    expect(KMS_PRICES.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(KMS_PRICES.requestsPer10kUsd).toEqual({
      standard: 0.03,
      asymmetric: 0.15,
      'ecc-data-key-pair': 0.1,
      'rsa-data-key-pair': 12,
    });
    expect(KMS_PRICES.keyMonthUsd).toBe(1);
    expect(KMS_PRICES.rotationSurchargeUsd).toBe(1);
    expect(KMS_PRICES.rotationSurchargeMaxRotations).toBe(2);
    expect(KMS_PRICES.freeRequestsPerMonth).toBe(20_000);
    expect(KMS_PRICES.freeTierClasses).toEqual(['standard']);
    expect(pricePerRequest(KMS_PRICES, 'rsa-data-key-pair')).toBeCloseTo(0.0012, 12);
  });

  it('is overridden field by field, and a bad override names the field', () => {
    const p = resolvePrices({ requestsPer10kUsd: { standard: 0.02 }, asOf: '2030-01-01' });
    expect(p.requestsPer10kUsd.standard).toBe(0.02);
    expect(p.requestsPer10kUsd.asymmetric).toBe(0.15);
    expect(p.asOf).toBe('2030-01-01');
    expect(() => resolvePrices({ keyMonthUsd: -1 })).toThrow(/prices\.keyMonthUsd/);
    expect(() => resolvePrices({ requestsPer10kUsd: { standard: Number.NaN } })).toThrow(
      InvalidOptionError,
    );
    expect(() =>
      resolvePrices({ requestsPer10kUsd: { nope: 1 } as unknown as { standard: number } }),
    ).toThrow(/unknown billing class 'nope'/);
  });
});

describe('estimateCost', () => {
  it('applies the 20,000 free symmetric requests a month', () => {
    // 1,000,000 symmetric requests: 980,000 billed at $0.03 per 10,000 = $2.94.
    const e = estimateCost({ requests: { standard: 1_000_000 } });
    expect(e.requestsUsd.standard).toBeCloseTo(2.94, 10);
    expect(e.freeTierUsd).toBeCloseTo(0.06, 10);
    expect(e.totalUsd).toBeCloseTo(2.94, 10);
    expect(estimateCost({ requests: { standard: 15_000 } }).totalUsd).toBe(0);
  });

  it('does not apply the free tier to asymmetric or data-key-pair requests', () => {
    const e = estimateCost({
      requests: { asymmetric: 10_000, 'ecc-data-key-pair': 10_000, 'rsa-data-key-pair': 10_000 },
    });
    expect(e.totalUsd).toBeCloseTo(0.15 + 0.1 + 12, 10);
    expect(e.freeTierUsd).toBe(0);
  });

  it('projects a rate observed over a window to a 730-hour month', () => {
    // 10 symmetric requests a second for one minute -> 10 * 2,628,000 = 26,280,000 a month.
    const e = estimateCost({ requests: { standard: 600 }, observedSeconds: 60 });
    expect(MONTH_SECONDS).toBe(2_628_000);
    expect(e.monthlyRequests.standard).toBeCloseTo(26_280_000, 6);
    expect(e.totalUsd).toBeCloseTo(((26_280_000 - 20_000) * 0.03) / 10_000, 8); // $78.78
  });

  it('charges key-months plus $1 for each of the first two rotations', () => {
    expect(estimateCost({ keys: 3 }).keysUsd).toBe(3);
    const e = estimateCost({ keys: [{}, { rotations: 1 }, { rotations: 5 }, { months: 0.5 }] });
    expect(e.keysUsd).toBeCloseTo(1 + 2 + 3 + 0.5, 10);
  });

  it('prices what caching saved at the margin', () => {
    // 1,000,000 requests sent, 4,000,000 more answered by the cache: the hits would have cost
    // 4,000,000 * $0.03 / 10,000 = $12 (the free tier is already used up by the requests sent).
    const e = estimateCost({
      requests: { standard: 1_000_000 },
      cacheHits: { standard: 4_000_000 },
    });
    expect(e.savedByCacheUsd).toBeCloseTo(12, 8);
    expect(e.monthlyCacheHits).toBe(4_000_000);
    // Hits that would have fallen in the free tier save nothing.
    expect(
      estimateCost({ requests: { standard: 5_000 }, cacheHits: { standard: 5_000 } })
        .savedByCacheUsd,
    ).toBe(0);
  });

  it('uses overridden prices and rejects impossible input', () => {
    const e = estimateCost({
      requests: { standard: 10_000 },
      prices: { freeRequestsPerMonth: 0, requestsPer10kUsd: { standard: 1 } },
    });
    expect(e.totalUsd).toBeCloseTo(1, 10);
    expect(e.prices.requestsPer10kUsd.standard).toBe(1);
    expect(() => estimateCost({ requests: { standard: -1 } })).toThrow(/requests\.standard/);
    expect(() => estimateCost({ observedSeconds: 0 })).toThrow(/observedSeconds/);
  });

  it('gives the figures the README example states', () => {
    const e = estimateCost({
      requests: { standard: 600 },
      cacheHits: { standard: 2_400 },
      observedSeconds: 60,
      keys: [{}, { rotations: 1 }],
    });
    expect(e.totalUsd).toBeCloseTo(81.78, 8);
    expect(e.savedByCacheUsd).toBeCloseTo(315.36, 8);
  });
});
