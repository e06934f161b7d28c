import type { BillingClass } from '@steadykms/core';
import { BILLING_CLASSES, resolvePrices, type PriceOverrides, type PriceTable } from './prices.js';

/** Seconds in AWS's billing month of 730 hours, the month {@link estimateCost} projects to by default. */
export const MONTH_SECONDS = 730 * 3600;

/** Counts per billing class; a class left out counts zero. */
export type ClassCounts = Readonly<Partial<Record<BillingClass, number>>>;

/** One customer-managed key for the cost of keys. */
export interface KeyUsage {
  /**
   * Rotations the key has had (automatic or on demand). Each of the first two adds the rotation surcharge
   * to every key-month. @defaultValue 0
   */
  readonly rotations?: number;
  /** Months the key is kept in the period. @defaultValue 1 */
  readonly months?: number;
}

/** What {@link estimateCost} prices. */
export interface CostInput {
  /** Requests sent to KMS per billing class, counted over `observedSeconds`. */
  readonly requests?: ClassCounts;
  /** Operations a cache or coalescing answered without a request, per billing class, same window. */
  readonly cacheHits?: ClassCounts;
  /**
   * Length of the window the counts were taken over, in seconds. When given, counts are scaled to
   * `monthSeconds` ("at this rate, this month costs..."); when omitted they are taken as a month's counts.
   */
  readonly observedSeconds?: number;
  /** Seconds in the month projected to. @defaultValue {@link MONTH_SECONDS} (730 hours) */
  readonly monthSeconds?: number;
  /** Customer-managed keys: a number of keys without rotations, or one entry per key. @defaultValue 0 */
  readonly keys?: number | readonly KeyUsage[];
  /** Price overrides merged over {@link KMS_PRICES}, or a whole {@link PriceTable}. */
  readonly prices?: PriceOverrides;
}

/** A month's cost, in US dollars, and how it adds up. Figures are unrounded; round for display. */
export interface CostEstimate {
  /** The price table used (its `asOf` dates the figures). */
  readonly prices: PriceTable;
  /** Requests per class in the month, after projection. */
  readonly monthlyRequests: Readonly<Record<BillingClass, number>>;
  /** Cost of requests per class after the free tier, USD. */
  readonly requestsUsd: Readonly<Record<BillingClass, number>>;
  /** How much the free tier took off, USD. */
  readonly freeTierUsd: number;
  /** Key-months plus rotation surcharges, USD. */
  readonly keysUsd: number;
  /** Everything: requests after the free tier plus keys, USD. */
  readonly totalUsd: number;
  /** Cache hits in the month, after projection. */
  readonly monthlyCacheHits: number;
  /**
   * What caching saved in the month, USD: the cost of the requests with the cache hits added back minus
   * the cost without them. Marginal, so hits that would have fallen in the free tier save nothing.
   */
  readonly savedByCacheUsd: number;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`estimateCost: ${name} must be a finite number >= 0, got ${value}`);
  }
  return value;
}

function zeroCounts(): Record<BillingClass, number> {
  return { standard: 0, asymmetric: 0, 'ecc-data-key-pair': 0, 'rsa-data-key-pair': 0 };
}

/** Request cost per class after the free tier, which is applied to the free-tier classes in table order. */
function requestCost(
  prices: PriceTable,
  counts: Readonly<Record<BillingClass, number>>,
): { perClass: Record<BillingClass, number>; free: number } {
  const perClass = zeroCounts();
  let freeLeft = prices.freeRequestsPerMonth;
  let free = 0;
  for (const cls of BILLING_CLASSES) {
    const n = counts[cls];
    // Price per 10,000 times count over 10,000: one division keeps 0.03 * 20,000 exact enough to compare.
    const gross = (prices.requestsPer10kUsd[cls] * n) / 10_000;
    let waived = 0;
    if (prices.freeTierClasses.includes(cls) && freeLeft > 0) {
      const freeHere = Math.min(freeLeft, n);
      freeLeft -= freeHere;
      waived = (prices.requestsPer10kUsd[cls] * freeHere) / 10_000;
    }
    perClass[cls] = gross - waived;
    free += waived;
  }
  return { perClass, free };
}

/**
 * Projects a month of KMS cost in US dollars from request counts per billing class, keys and rotations,
 * with the free tier applied, and what caching saved.
 *
 * Use it with counts from {@link SteadyKmsOtelHandle.usage} for "at this rate, this month costs $X":
 * `estimateCost({ ...handle.usage(), keys: 3 })`.
 *
 * @throws RangeError when a count, a duration or a rotation number is negative or not finite.
 */
export function estimateCost(input: CostInput): CostEstimate {
  const prices = resolvePrices(input.prices);
  const monthSeconds = nonNegative(input.monthSeconds ?? MONTH_SECONDS, 'monthSeconds');
  const scale =
    input.observedSeconds === undefined
      ? 1
      : monthSeconds / nonNegative(input.observedSeconds, 'observedSeconds');
  if (!Number.isFinite(scale)) {
    throw new RangeError('estimateCost: observedSeconds must be greater than 0');
  }
  const monthlyRequests = zeroCounts();
  const withHits = zeroCounts();
  let monthlyCacheHits = 0;
  for (const cls of BILLING_CLASSES) {
    const n = nonNegative(input.requests?.[cls] ?? 0, `requests.${cls}`) * scale;
    const h = nonNegative(input.cacheHits?.[cls] ?? 0, `cacheHits.${cls}`) * scale;
    monthlyRequests[cls] = n;
    withHits[cls] = n + h;
    monthlyCacheHits += h;
  }
  const actual = requestCost(prices, monthlyRequests);
  const counterfactual = requestCost(prices, withHits);
  const sum = (r: Record<BillingClass, number>): number =>
    BILLING_CLASSES.reduce((acc, cls) => acc + r[cls], 0);

  let keysUsd = 0;
  const keys = input.keys ?? 0;
  if (typeof keys === 'number') {
    keysUsd = nonNegative(keys, 'keys') * prices.keyMonthUsd;
  } else {
    keys.forEach((key, i) => {
      const months = nonNegative(key.months ?? 1, `keys[${i}].months`);
      const rotations = nonNegative(key.rotations ?? 0, `keys[${i}].rotations`);
      const surcharged = Math.min(rotations, prices.rotationSurchargeMaxRotations);
      keysUsd += months * (prices.keyMonthUsd + surcharged * prices.rotationSurchargeUsd);
    });
  }
  const requestsTotal = sum(actual.perClass);
  return {
    prices,
    monthlyRequests,
    requestsUsd: actual.perClass,
    freeTierUsd: actual.free,
    keysUsd,
    totalUsd: requestsTotal + keysUsd,
    monthlyCacheHits,
    savedByCacheUsd: sum(counterfactual.perClass) - requestsTotal,
  };
}
