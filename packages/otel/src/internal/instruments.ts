import type {
  BatchObservableCallback,
  Histogram,
  Meter,
  ObservableCounter,
  ObservableGauge,
} from '@opentelemetry/api';
import { METRIC_RPC_CLIENT_CALL_DURATION } from '@opentelemetry/semantic-conventions';
import {
  METRIC_CACHE_HITS,
  METRIC_COST,
  METRIC_COST_SAVED,
  METRIC_LIMITER_CEILING,
  METRIC_LIMITER_QUOTA,
  METRIC_LIMITER_RATE,
  METRIC_LIMITER_WAIT,
  METRIC_REQUESTS,
  METRIC_RETRIES,
  METRIC_THROTTLES,
} from '../attributes.js';

// The bucket boundaries the RPC semantic conventions advise for `rpc.client.call.duration`, in seconds.
const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];
// Limiter waits are mostly zero; the small buckets separate "no wait" from "paced".
const WAIT_BUCKETS = [0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The metric instruments of one meter. The counters are observable: the subscriber sums per attribute set
 * itself and reports at collection, because a synchronous `add()` makes the SDK hash the attribute set on
 * every call, which was the largest single cost per KMS call in the overhead benchmark.
 */
export interface Instruments {
  readonly duration: Histogram;
  readonly requests: ObservableCounter;
  readonly throttles: ObservableCounter;
  readonly retries: ObservableCounter;
  readonly cacheHits: ObservableCounter;
  readonly cost: ObservableCounter;
  readonly costSaved: ObservableCounter;
  readonly limiterWait: Histogram;
  readonly rate: ObservableGauge;
  readonly ceiling: ObservableGauge;
  readonly quota: ObservableGauge;
}

export function createInstruments(meter: Meter): Instruments {
  return {
    duration: meter.createHistogram(METRIC_RPC_CLIENT_CALL_DURATION, {
      description: 'Duration of logical KMS operations, limiter waits and retries included.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    requests: meter.createObservableCounter(METRIC_REQUESTS, {
      description: 'Requests sent to KMS, retries included; cache hits send none.',
      unit: '{request}',
    }),
    throttles: meter.createObservableCounter(METRIC_THROTTLES, {
      description: 'Requests KMS rejected with ThrottlingException.',
      unit: '{request}',
    }),
    retries: meter.createObservableCounter(METRIC_RETRIES, {
      description: 'Requests sent again after a throttle or a transient fault.',
      unit: '{request}',
    }),
    cacheHits: meter.createObservableCounter(METRIC_CACHE_HITS, {
      description:
        'Operations answered by a cache or by coalescing, without a request of their own.',
      unit: '{operation}',
    }),
    cost: meter.createObservableCounter(METRIC_COST, {
      description: 'Estimated list-price spend on KMS requests, before the monthly free tier.',
      unit: 'USD',
    }),
    costSaved: meter.createObservableCounter(METRIC_COST_SAVED, {
      description: 'Estimated list-price spend avoided by caches and coalescing.',
      unit: 'USD',
    }),
    limiterWait: meter.createHistogram(METRIC_LIMITER_WAIT, {
      description: 'Time one limiter acquisition waited for quota.',
      unit: 's',
      advice: { explicitBucketBoundaries: WAIT_BUCKETS },
    }),
    rate: meter.createObservableGauge(METRIC_LIMITER_RATE, {
      description: "A quota pool's current pacing rate.",
      unit: '{request}/s',
    }),
    ceiling: meter.createObservableGauge(METRIC_LIMITER_CEILING, {
      description: "A quota pool's ceiling: its quota times this client's share.",
      unit: '{request}/s',
    }),
    quota: meter.createObservableGauge(METRIC_LIMITER_QUOTA, {
      description: "A quota pool's configured KMS quota.",
      unit: '{request}/s',
    }),
  };
}

/** Registers `callback` for every observable instrument; returns the function that removes it. */
export function observeAll(
  meter: Meter,
  instruments: Instruments,
  callback: BatchObservableCallback,
): () => void {
  const observables = [
    instruments.requests,
    instruments.throttles,
    instruments.retries,
    instruments.cacheHits,
    instruments.cost,
    instruments.costSaved,
    instruments.rate,
    instruments.ceiling,
    instruments.quota,
  ];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
