import { SpanKind, type Attributes, type SpanOptions } from '@opentelemetry/api';
import { ATTR_RPC_METHOD } from '@opentelemetry/semantic-conventions';
import type { BillingClass, CacheResult } from '@steadykms/core';
import {
  ATTR_BILLING_CLASS,
  ATTR_KMS_KEY_ALIAS,
  ATTR_KMS_KEY_ID,
  ATTR_QUOTA_POOL,
} from '../attributes.js';
import { billingClassOf, pricePerRequest, type PriceTable } from '../cost/prices.js';
import {
  ATTR_CLOUD_ACCOUNT_ID,
  ATTR_CLOUD_REGION,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  RPC_SYSTEM_VALUE_AWS_API,
} from '../semconv.js';
import type { CounterRow } from './CounterTable.js';

/** The fields `operation:start` and `operation:end` share, which decide an operation's shape. */
export interface ShapeFields {
  readonly operation: string;
  readonly region: string;
  readonly accountId: string | undefined;
  readonly pool: string;
  readonly billing: string;
  readonly keyId: string | undefined;
}

/**
 * What every operation with the same operation, region, account, pool, billing class and key shares: the
 * span name, the span's start options (attributes included), the price of one request, and the metric
 * rows its successful ends fall in. Built once and reused, so a KMS call allocates none of it.
 */
export interface OperationShape {
  readonly operation: string;
  readonly spanName: string;
  /** Frozen: the tracing SDK copies the attributes into the span, so one object serves every span. */
  readonly spanOptions: Readonly<SpanOptions>;
  readonly billing: BillingClass;
  /** List price of one request of this billing class, US dollars. */
  readonly pricePerRequest: number;
  /**
   * Counter rows of operations that ended without error, by the key ARN the response revealed (`''` for
   * none) and then the cache result. A memo over the {@link CounterTable}: the rows themselves live there,
   * so two shapes whose metric attributes coincide share one row.
   */
  readonly rows: Map<string, Map<CacheResult, CounterRow>>;
}

/** A shape with the fields it was made from, to tell apart shapes that share a key and operation. */
interface Shape extends OperationShape {
  readonly fields: ShapeFields;
}

// A response names one ARN per key, and an alias rarely moves, so a shape sees one or two ARNs. The bound
// only guards against a caller that rotates through aliases; clearing is cheaper to reason about than LRU.
const MAX_ROWS_PER_SHAPE = 64;

function isAlias(keyId: string): boolean {
  return keyId.startsWith('alias/') || keyId.includes(':alias/');
}

/**
 * Operation shapes by their fields. Bounded: past `maxShapes` the cache is emptied and refilled, which
 * costs one rebuild per shape, never correctness (counter sums live in the {@link CounterTable}).
 */
export class ShapeCache {
  // By key then operation, then a short list told apart by region, pool, billing and account: lookups by
  // strings the messages already hold (their hashes are cached), no key string built per call.
  readonly #shapes = new Map<string | undefined, Map<string, Shape[]>>();
  readonly #prices: PriceTable;
  readonly #maxShapes: number;
  #size = 0;

  constructor(prices: PriceTable, maxShapes = 2000) {
    this.#prices = prices;
    this.#maxShapes = maxShapes;
  }

  /** The shape of the operation a start or end message describes. */
  get(m: ShapeFields): OperationShape {
    let byOperation = this.#shapes.get(m.keyId);
    let list = byOperation?.get(m.operation);
    if (list !== undefined) {
      for (const shape of list) {
        if (
          shape.fields.region === m.region &&
          shape.fields.pool === m.pool &&
          shape.fields.billing === m.billing &&
          shape.fields.accountId === m.accountId
        ) {
          return shape;
        }
      }
    }
    if (this.#size >= this.#maxShapes) {
      this.#shapes.clear();
      this.#size = 0;
      byOperation = undefined;
      list = undefined;
    }
    if (byOperation === undefined) {
      byOperation = new Map();
      this.#shapes.set(m.keyId, byOperation);
    }
    if (list === undefined) {
      list = [];
      byOperation.set(m.operation, list);
    }
    const shape = this.#make(m);
    list.push(shape);
    this.#size++;
    return shape;
  }

  /** The memo for an ARN and cache result, emptied when a shape has seen too many ARNs. */
  static rowsFor(shape: OperationShape, keyArn: string): Map<CacheResult, CounterRow> {
    let byCache = shape.rows.get(keyArn);
    if (byCache === undefined) {
      if (shape.rows.size >= MAX_ROWS_PER_SHAPE) shape.rows.clear();
      byCache = new Map();
      shape.rows.set(keyArn, byCache);
    }
    return byCache;
  }

  #make(m: ShapeFields): Shape {
    const billing = billingClassOf(m.billing);
    const attributes: Attributes = {
      [ATTR_RPC_SYSTEM]: RPC_SYSTEM_VALUE_AWS_API,
      [ATTR_RPC_SERVICE]: 'KMS',
      [ATTR_RPC_METHOD]: m.operation,
      [ATTR_CLOUD_REGION]: m.region,
      [ATTR_QUOTA_POOL]: m.pool,
      [ATTR_BILLING_CLASS]: m.billing,
    };
    if (m.accountId !== undefined) attributes[ATTR_CLOUD_ACCOUNT_ID] = m.accountId;
    if (m.keyId !== undefined) {
      attributes[ATTR_KMS_KEY_ID] = m.keyId;
      if (isAlias(m.keyId)) attributes[ATTR_KMS_KEY_ALIAS] = m.keyId;
    }
    return {
      fields: {
        operation: m.operation,
        region: m.region,
        accountId: m.accountId,
        pool: m.pool,
        billing: m.billing,
        keyId: m.keyId,
      },
      operation: m.operation,
      spanName: `KMS.${m.operation}`,
      spanOptions: Object.freeze({
        kind: SpanKind.CLIENT,
        attributes: Object.freeze(attributes),
      }),
      billing,
      pricePerRequest: pricePerRequest(this.#prices, billing),
      rows: new Map(),
    };
  }
}
