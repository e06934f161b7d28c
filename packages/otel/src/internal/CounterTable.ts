import type { Attributes } from '@opentelemetry/api';

/** Sums for one attribute set, reported by the observable counters at collection. */
export interface CounterRow {
  readonly attributes: Attributes;
  requests: number;
  throttles: number;
  retries: number;
  cacheHits: number;
  costUsd: number;
  savedUsd: number;
}

/**
 * Counter sums per attribute set, looked up by a string the caller builds from the few fields that vary.
 * One `Map.get` per KMS call replaces the SDK hashing the whole attribute set on every `add()`.
 *
 * Bounded like the SDK's own storage (2,000 series per instrument by default): past `maxRows`, sums go to
 * one row marked `otel.metric.overflow=true`, as the SDK does.
 */
export class CounterTable {
  readonly #rows = new Map<string, CounterRow>();
  readonly #maxRows: number;
  #overflow: CounterRow | undefined;

  constructor(maxRows = 2000) {
    this.#maxRows = maxRows;
  }

  /** The row for `key`, made with `attributes()` the first time. */
  row(key: string, attributes: () => Attributes): CounterRow {
    let row = this.#rows.get(key);
    if (row === undefined) {
      if (this.#rows.size >= this.#maxRows) {
        this.#overflow ??= newRow({ 'otel.metric.overflow': true });
        return this.#overflow;
      }
      row = newRow(attributes());
      this.#rows.set(key, row);
    }
    return row;
  }

  /** Every row, the overflow row last. */
  *rows(): IterableIterator<CounterRow> {
    yield* this.#rows.values();
    if (this.#overflow !== undefined) yield this.#overflow;
  }
}

function newRow(attributes: Attributes): CounterRow {
  return {
    attributes,
    requests: 0,
    throttles: 0,
    retries: 0,
    cacheHits: 0,
    costUsd: 0,
    savedUsd: 0,
  };
}
