import { InvalidOptionError, type BillingClass } from '@steadykms/core';

/** Every billing class, in a fixed order for reports. */
export const BILLING_CLASSES: readonly BillingClass[] = [
  'standard',
  'asymmetric',
  'ecc-data-key-pair',
  'rsa-data-key-pair',
];

/**
 * The AWS KMS price list the cost model uses, as data. Prices are in US dollars.
 *
 * Why data: prices change and differ by agreement; an operator with a private price sheet overrides
 * fields with {@link resolvePrices} (or the `prices` option of `instrumentSteadyKms`) instead of waiting for
 * a release.
 */
export interface PriceTable {
  /** The day the figures were taken from the price list, ISO 8601 (`YYYY-MM-DD`). */
  readonly asOf: string;
  /** Where the figures come from. */
  readonly source: string;
  /** Price of one customer-managed key kept for one month, USD. */
  readonly keyMonthUsd: number;
  /** Surcharge per key-month for each rotation of a key, USD, up to `rotationSurchargeMaxRotations`. */
  readonly rotationSurchargeUsd: number;
  /** How many rotations carry the surcharge; later ones are free. */
  readonly rotationSurchargeMaxRotations: number;
  /** Price of 10,000 requests, USD, per billing class. */
  readonly requestsPer10kUsd: Readonly<Record<BillingClass, number>>;
  /** Free requests a month, shared by the classes in `freeTierClasses`. */
  readonly freeRequestsPerMonth: number;
  /** The billing classes the free tier applies to. */
  readonly freeTierClasses: readonly BillingClass[];
  /**
   * Whether an attempt KMS rejected with `ThrottlingException` is billed. AWS does not state it for KMS;
   * we assume not (a throttle is a rejection before any cryptographic work). Set `true` for the pessimistic
   * figure.
   */
  readonly billThrottledRequests: boolean;
}

/**
 * The price list of DESIGN §9 (AWS KMS pricing, all commercial regions): $1 per key-month plus $1 for each
 * of the first two rotations; requests $0.03 per 10,000 symmetric (and RSA_2048), $0.15 per 10,000 other
 * asymmetric, $0.10 per 10,000 ECC GenerateDataKeyPair, $12.00 per 10,000 RSA GenerateDataKeyPair;
 * 20,000 free symmetric requests a month.
 *
 * `asOf` is the day the table was transcribed from DESIGN §9, which mirrors https://aws.amazon.com/kms/pricing/;
 * check it there before quoting a figure to anyone who pays the bill.
 */
export const KMS_PRICES: PriceTable = Object.freeze({
  asOf: '2026-11-28',
  source: 'DESIGN.md §9, after https://aws.amazon.com/kms/pricing/',
  keyMonthUsd: 1,
  rotationSurchargeUsd: 1,
  rotationSurchargeMaxRotations: 2,
  requestsPer10kUsd: Object.freeze({
    standard: 0.03,
    asymmetric: 0.15,
    'ecc-data-key-pair': 0.1,
    'rsa-data-key-pair': 12,
  }),
  freeRequestsPerMonth: 20_000,
  freeTierClasses: Object.freeze(['standard'] as BillingClass[]),
  billThrottledRequests: false,
});

/** Fields of {@link PriceTable} to override; anything left out keeps the {@link KMS_PRICES} figure. */
export interface PriceOverrides {
  readonly asOf?: string;
  readonly source?: string;
  readonly keyMonthUsd?: number;
  readonly rotationSurchargeUsd?: number;
  readonly rotationSurchargeMaxRotations?: number;
  readonly requestsPer10kUsd?: Readonly<Partial<Record<BillingClass, number>>>;
  readonly freeRequestsPerMonth?: number;
  readonly freeTierClasses?: readonly BillingClass[];
  readonly billThrottledRequests?: boolean;
}

function amount(value: number, option: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(`prices.${option} must be a finite number >= 0, got ${value}`);
  }
  return value;
}

/**
 * Merges `overrides` over `base` (default {@link KMS_PRICES}) and validates the result.
 *
 * @throws InvalidOptionError naming the field when a price is negative or not finite, or a billing class is
 * unknown.
 */
export function resolvePrices(
  overrides: PriceOverrides | undefined,
  base: PriceTable = KMS_PRICES,
): PriceTable {
  if (overrides === undefined) return base;
  const per10k = { ...base.requestsPer10kUsd };
  for (const [cls, value] of Object.entries(overrides.requestsPer10kUsd ?? {})) {
    if (!BILLING_CLASSES.includes(cls as BillingClass)) {
      throw new InvalidOptionError(
        `prices.requestsPer10kUsd has an unknown billing class '${cls}'`,
      );
    }
    if (value !== undefined)
      per10k[cls as BillingClass] = amount(value, `requestsPer10kUsd.${cls}`);
  }
  const freeTierClasses = overrides.freeTierClasses ?? base.freeTierClasses;
  for (const cls of freeTierClasses) {
    if (!BILLING_CLASSES.includes(cls)) {
      throw new InvalidOptionError(`prices.freeTierClasses has an unknown billing class '${cls}'`);
    }
  }
  const maxRotations = amount(
    overrides.rotationSurchargeMaxRotations ?? base.rotationSurchargeMaxRotations,
    'rotationSurchargeMaxRotations',
  );
  return Object.freeze({
    asOf: overrides.asOf ?? base.asOf,
    source: overrides.source ?? base.source,
    keyMonthUsd: amount(overrides.keyMonthUsd ?? base.keyMonthUsd, 'keyMonthUsd'),
    rotationSurchargeUsd: amount(
      overrides.rotationSurchargeUsd ?? base.rotationSurchargeUsd,
      'rotationSurchargeUsd',
    ),
    rotationSurchargeMaxRotations: maxRotations,
    requestsPer10kUsd: Object.freeze(per10k),
    freeRequestsPerMonth: amount(
      overrides.freeRequestsPerMonth ?? base.freeRequestsPerMonth,
      'freeRequestsPerMonth',
    ),
    freeTierClasses: Object.freeze([...freeTierClasses]),
    billThrottledRequests: overrides.billThrottledRequests ?? base.billThrottledRequests,
  });
}

/** List price of one request of `billing` class, USD (free tier not applied). */
export function pricePerRequest(prices: PriceTable, billing: BillingClass): number {
  return prices.requestsPer10kUsd[billing] / 10_000;
}

/** Narrows a string from an event to a {@link BillingClass}; unknown classes bill as `standard`. */
export function billingClassOf(value: string): BillingClass {
  return BILLING_CLASSES.includes(value as BillingClass) ? (value as BillingClass) : 'standard';
}
