import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  SpanStatusCode,
  diag,
  metrics,
  trace,
  type Attributes,
  type BatchObservableResult,
  type Meter,
  type MeterProvider,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_RPC_METHOD,
} from '@opentelemetry/semantic-conventions';
import {
  CHANNEL_NAMES,
  InvalidOptionError,
  type AttemptEndMessage,
  type BillingClass,
  type CacheMessage,
  type LimiterWaitMessage,
  type OperationEndMessage,
  type OperationStartMessage,
  type RateMessage,
  type RetryMessage,
  type ThrottleMessage,
} from '@steadykms/core';
import {
  ATTR_ATTEMPT,
  ATTR_ATTEMPT_DURATION_MS,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_ATTEMPTS,
  ATTR_CACHE_EVENT,
  ATTR_CACHE_NAME,
  ATTR_CACHE_REASON,
  ATTR_CACHE_RESULT,
  ATTR_COST_USD,
  ATTR_ERROR_CODE,
  ATTR_INCOMPLETE,
  ATTR_KMS_KEY,
  ATTR_KMS_KEY_ARN,
  ATTR_LIMITER_PRIORITY,
  ATTR_LIMITER_RATE,
  ATTR_LIMITER_WAIT_MS,
  ATTR_QUOTA_POOL,
  ATTR_RETRIES,
  ATTR_RETRY_DELAY_MS,
  ATTR_RETRY_REASON,
  ATTR_THROTTLES,
  EVENT_ATTEMPT,
  EVENT_CACHE,
  EVENT_LIMITER_WAIT,
  EVENT_RETRY,
  EVENT_THROTTLE,
} from '../attributes.js';
import { ContextAuditor } from '../audit/ContextAuditor.js';
import { pricePerRequest, resolvePrices, type PriceTable } from '../cost/prices.js';
import {
  ATTR_AWS_REQUEST_ID,
  ATTR_CLOUD_ACCOUNT_ID,
  ATTR_CLOUD_REGION,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  RPC_SYSTEM_VALUE_AWS_API,
} from '../semconv.js';
import type { KmsUsage, SteadyKmsOtelOptions } from '../types.js';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from '../version.js';
import { CounterTable, type CounterRow } from './CounterTable.js';
import { createInstruments, observeAll, type Instruments } from './instruments.js';
import { ShapeCache, type OperationShape } from './ShapeCache.js';

const log = diag.createComponentLogger({ namespace: INSTRUMENTATION_NAME });

/** One logical operation between its start and end messages. */
interface OpenOperation {
  readonly shape: OperationShape;
  readonly span: Span;
  retries: number;
  /**
   * A first attempt that succeeded, held back rather than added as an event: if it is the operation's
   * only attempt (the common case) the end summarises it in span attributes; anything that follows it
   * turns it into an event after all.
   */
  okAttempt: AttemptEndMessage | undefined;
}

type Handler = (message: unknown, name: string | symbol) => void;

function zeroCounts(): Record<BillingClass, number> {
  return { standard: 0, asymmetric: 0, 'ecc-data-key-pair': 0, 'rsa-data-key-pair': 0 };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * The subscriber behind {@link instrumentSteadyKms} and {@link SteadyKmsInstrumentation}: turns core's
 * diagnostics-channel messages into spans, metrics and usage counts. Every handler runs inside a try/catch,
 * because an exception thrown by a diagnostics-channel subscriber is rethrown on the next tick as an
 * uncaught exception, which would take the application down for a telemetry bug.
 */
export class KmsTelemetry {
  readonly #options: SteadyKmsOtelOptions;
  readonly #auditor: ContextAuditor;
  readonly #prices: PriceTable;
  readonly #metricsByKey: boolean;
  readonly #maxOpen: number;
  #tracer!: Tracer;
  #meter!: Meter;
  #instruments!: Instruments;
  #removeObserver: (() => void) | undefined;
  readonly #open = new Map<number, OpenOperation>();
  readonly #rates = new Map<string, RateMessage>();
  readonly #counters = new CounterTable();
  readonly #shapes: ShapeCache;
  readonly #waitAttributes = new Map<string, Attributes>();
  readonly #handlers: ReadonlyArray<readonly [string, Handler]>;
  #enabled = false;
  #since = Date.now();
  #requests = zeroCounts();
  #cacheHits = zeroCounts();
  #throttles = 0;

  constructor(options: SteadyKmsOtelOptions = {}) {
    this.#options = options;
    this.#auditor = new ContextAuditor(options.allowListedContextKeys ?? [], options.hashKey);
    this.#prices = resolvePrices(options.prices);
    this.#shapes = new ShapeCache(this.#prices);
    this.#metricsByKey = options.metricsByKey ?? true;
    this.#maxOpen = options.maxOpenOperations ?? 10_000;
    if (!Number.isInteger(this.#maxOpen) || this.#maxOpen < 1) {
      throw new InvalidOptionError(
        `maxOpenOperations must be an integer >= 1, got ${this.#maxOpen}`,
      );
    }
    this.setTracerProvider(options.tracerProvider ?? trace.getTracerProvider());
    this.setMeterProvider(options.meterProvider ?? metrics.getMeterProvider());
    const guard =
      <M>(what: string, fn: (message: M) => void): Handler =>
      (message) => {
        try {
          fn(message as M);
        } catch (e) {
          log.error(`failed to record ${what}`, e);
        }
      };
    this.#handlers = [
      [CHANNEL_NAMES.operationStart, guard('operation start', this.#onStart)],
      [CHANNEL_NAMES.operationEnd, guard('operation end', this.#onEnd)],
      [CHANNEL_NAMES.attemptEnd, guard('attempt', this.#onAttemptEnd)],
      [CHANNEL_NAMES.throttle, guard('throttle', this.#onThrottle)],
      [CHANNEL_NAMES.retry, guard('retry', this.#onRetry)],
      [CHANNEL_NAMES.limiterWait, guard('limiter wait', this.#onLimiterWait)],
      [CHANNEL_NAMES.rate, guard('limiter rate', this.#onRate)],
      [CHANNEL_NAMES.cache, guard('cache event', this.#onCache)],
    ];
  }

  /** The price table in use. */
  get prices(): PriceTable {
    return this.#prices;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  setTracerProvider(provider: TracerProvider): void {
    this.#tracer = provider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  }

  setMeterProvider(provider: MeterProvider): void {
    this.#removeObserver?.();
    this.#removeObserver = undefined;
    this.#meter = provider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    this.#instruments = createInstruments(this.#meter);
    if (this.#enabled) this.#observe();
  }

  /** Subscribes to core's channels. Idempotent. */
  enable(): void {
    if (this.#enabled) return;
    this.#enabled = true;
    this.#since = Date.now();
    this.#requests = zeroCounts();
    this.#cacheHits = zeroCounts();
    this.#throttles = 0;
    for (const [name, handler] of this.#handlers) subscribe(name, handler);
    this.#observe();
  }

  /**
   * Unsubscribes from core's channels. Spans of operations still in flight are ended now, marked
   * `steadykms.incomplete`, so that none is left open forever. Idempotent.
   */
  disable(): void {
    if (!this.#enabled) return;
    this.#enabled = false;
    for (const [name, handler] of this.#handlers) unsubscribe(name, handler);
    this.#removeObserver?.();
    this.#removeObserver = undefined;
    for (const op of this.#open.values()) this.#abandon(op);
    this.#open.clear();
    this.#rates.clear();
  }

  /** Counts since {@link enable}. */
  usage(): KmsUsage {
    return {
      requests: { ...this.#requests },
      cacheHits: { ...this.#cacheHits },
      throttles: this.#throttles,
      // Never 0, which `estimateCost` rejects: a projection made the instant counting starts is
      // meaningless but should not throw.
      observedSeconds: Math.max(0.001, (Date.now() - this.#since) / 1000),
    };
  }

  /** Reports the counters and limiter gauges at each collection. */
  #observe(): void {
    this.#removeObserver = observeAll(this.#meter, this.#instruments, this.#report);
  }

  readonly #report = (result: BatchObservableResult): void => {
    const ins = this.#instruments;
    for (const row of this.#counters.rows()) {
      const a = row.attributes;
      if (row.requests > 0) result.observe(ins.requests, row.requests, a);
      if (row.throttles > 0) result.observe(ins.throttles, row.throttles, a);
      if (row.retries > 0) result.observe(ins.retries, row.retries, a);
      if (row.cacheHits > 0) result.observe(ins.cacheHits, row.cacheHits, a);
      if (row.costUsd > 0) result.observe(ins.cost, row.costUsd, a);
      if (row.savedUsd > 0) result.observe(ins.costSaved, row.savedUsd, a);
    }
    const { rate, ceiling, quota } = ins;
    for (const m of this.#rates.values()) {
      const attributes: Attributes = {
        [ATTR_RPC_SYSTEM]: RPC_SYSTEM_VALUE_AWS_API,
        [ATTR_RPC_SERVICE]: 'KMS',
        [ATTR_QUOTA_POOL]: m.pool,
        [ATTR_CLOUD_REGION]: m.region,
      };
      if (m.accountId !== undefined) attributes[ATTR_CLOUD_ACCOUNT_ID] = m.accountId;
      result.observe(rate, m.rate, attributes);
      result.observe(ceiling, m.ceiling, attributes);
      result.observe(quota, m.quota, attributes);
    }
  };

  #abandon(op: OpenOperation): void {
    this.#flushAttempt(op);
    op.span.setAttribute(ATTR_INCOMPLETE, true);
    op.span.end();
  }

  #runHook(name: string, hook: () => void): void {
    try {
      hook();
    } catch (e) {
      log.error(`${name} threw; the KMS call is not affected`, e);
    }
  }

  readonly #onStart = (m: OperationStartMessage): void => {
    if (this.#open.size >= this.#maxOpen) {
      const oldest = this.#open.entries().next().value;
      if (oldest !== undefined) {
        this.#open.delete(oldest[0]);
        this.#abandon(oldest[1]);
      }
    }
    // Name, kind and start attributes are the same for every call of one shape: built once, reused.
    const shape = this.#shapes.get(m);
    // The publish is synchronous, so the active context is the caller's and the span is its child.
    const span = this.#tracer.startSpan(shape.spanName, shape.spanOptions);
    if (m.encryptionContext !== undefined && span.isRecording()) {
      const ec: Attributes = {};
      this.#auditor.addAttributes(m.encryptionContext, ec);
      span.setAttributes(ec);
    }
    this.#open.set(m.operationId, { shape, span, retries: 0, okAttempt: undefined });
    const hook = this.#options.startHook;
    if (hook !== undefined) this.#runHook('startHook', () => hook(span, { message: m }));
  };

  readonly #onAttemptEnd = (m: AttemptEndMessage): void => {
    const op = this.#open.get(m.operationId);
    if (op === undefined || !op.span.isRecording()) return;
    this.#flushAttempt(op);
    if (m.outcome === 'ok' && m.attempt === 1) {
      // Most likely the only attempt: an event for it would repeat the span (see #onEnd).
      op.okAttempt = m;
      return;
    }
    this.#addAttemptEvent(op.span, m);
  };

  /** Turns a held-back first attempt into the event it would have been, because more followed it. */
  #flushAttempt(op: OpenOperation): void {
    if (op.okAttempt === undefined) return;
    this.#addAttemptEvent(op.span, op.okAttempt);
    op.okAttempt = undefined;
  }

  #addAttemptEvent(span: Span, m: AttemptEndMessage): void {
    const attributes: Attributes = {
      [ATTR_ATTEMPT]: m.attempt,
      [ATTR_ATTEMPT_OUTCOME]: m.outcome,
      [ATTR_ATTEMPT_DURATION_MS]: m.durationMs,
    };
    if (m.httpStatus !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = m.httpStatus;
    if (m.requestId !== undefined) attributes[ATTR_AWS_REQUEST_ID] = m.requestId;
    if (m.errorName !== undefined) attributes[ATTR_ERROR_TYPE] = m.errorName;
    span.addEvent(EVENT_ATTEMPT, attributes);
  }

  readonly #onThrottle = (m: ThrottleMessage): void => {
    const op = this.#open.get(m.operationId);
    if (op === undefined || !op.span.isRecording()) return;
    this.#flushAttempt(op);
    const attributes: Attributes = { [ATTR_ATTEMPT]: m.attempt, [ATTR_QUOTA_POOL]: m.pool };
    // Core reports an infinite rate when the pool is not paced (quotas off); JSON exporters would
    // turn that into null, so it is left out.
    if (Number.isFinite(m.rate)) attributes[ATTR_LIMITER_RATE] = m.rate;
    op.span.addEvent(EVENT_THROTTLE, attributes);
  };

  readonly #onRetry = (m: RetryMessage): void => {
    const op = this.#open.get(m.operationId);
    if (op === undefined) return;
    op.retries++;
    if (!op.span.isRecording()) return;
    this.#flushAttempt(op);
    op.span.addEvent(EVENT_RETRY, {
      [ATTR_ATTEMPT]: m.attempt,
      [ATTR_RETRY_DELAY_MS]: m.delayMs,
      [ATTR_RETRY_REASON]: m.reason,
    });
  };

  readonly #onLimiterWait = (m: LimiterWaitMessage): void => {
    const op = m.operationId === undefined ? undefined : this.#open.get(m.operationId);
    this.#instruments.limiterWait.record(m.waitMs / 1000, this.#waitAttributesOf(m, op));
    if (op !== undefined && m.waitMs > 0 && op.span.isRecording()) {
      this.#flushAttempt(op);
      op.span.addEvent(EVENT_LIMITER_WAIT, {
        [ATTR_LIMITER_WAIT_MS]: m.waitMs,
        [ATTR_LIMITER_PRIORITY]: m.priority,
      });
    }
  };

  /** The attributes of a limiter-wait record, one frozen object per pool, region, priority and operation. */
  #waitAttributesOf(m: LimiterWaitMessage, op: OpenOperation | undefined): Attributes {
    const operation = op?.shape.operation;
    const id = `${m.pool}\u0000${m.region}\u0000${m.priority}\u0000${operation ?? ''}`;
    let attributes = this.#waitAttributes.get(id);
    if (attributes === undefined) {
      const a: Attributes = {
        [ATTR_RPC_SYSTEM]: RPC_SYSTEM_VALUE_AWS_API,
        [ATTR_RPC_SERVICE]: 'KMS',
        [ATTR_QUOTA_POOL]: m.pool,
        [ATTR_CLOUD_REGION]: m.region,
        [ATTR_LIMITER_PRIORITY]: m.priority,
      };
      if (operation !== undefined) a[ATTR_RPC_METHOD] = operation;
      attributes = Object.freeze(a);
      // Pools, regions and operations are few; the bound only guards against a misbehaving publisher.
      if (this.#waitAttributes.size >= 2000) this.#waitAttributes.clear();
      this.#waitAttributes.set(id, attributes);
    }
    return attributes;
  }

  readonly #onRate = (m: RateMessage): void => {
    this.#rates.set(`${m.pool}\u0000${m.region}\u0000${m.accountId ?? ''}`, m);
  };

  readonly #onCache = (m: CacheMessage): void => {
    const op = m.operationId === undefined ? undefined : this.#open.get(m.operationId);
    if (op !== undefined && op.span.isRecording()) {
      this.#flushAttempt(op);
      const attributes: Attributes = { [ATTR_CACHE_NAME]: m.cache, [ATTR_CACHE_EVENT]: m.event };
      if (m.reason !== undefined) attributes[ATTR_CACHE_REASON] = m.reason;
      op.span.addEvent(EVENT_CACHE, attributes);
    }
    // Decrypt-cache hits and coalesced calls are counted once, from `operation:end` (cache: hit/coalesced).
    // A data-key cache hit (or a caller that joined another's in-flight load) has no operation of its own:
    // it is a GenerateDataKey that never happened, so it is counted here, priced as the standard request
    // it avoided.
    if (m.cache === 'data-key' && (m.event === 'hit' || m.event === 'coalesced')) {
      const key = this.#metricsByKey ? m.keyId : undefined;
      const result = m.event;
      const row = this.#counters.row(
        `\u0001data-key\u0000${result}\u0000${m.operation ?? ''}\u0000${key ?? ''}`,
        () => {
          const attributes: Attributes = {
            [ATTR_RPC_SYSTEM]: RPC_SYSTEM_VALUE_AWS_API,
            [ATTR_RPC_SERVICE]: 'KMS',
            [ATTR_CACHE_NAME]: m.cache,
            [ATTR_CACHE_RESULT]: result,
          };
          if (m.operation !== undefined) attributes[ATTR_RPC_METHOD] = m.operation;
          if (key !== undefined) attributes[ATTR_KMS_KEY] = key;
          return attributes;
        },
      );
      row.cacheHits++;
      row.savedUsd += pricePerRequest(this.#prices, 'standard');
      this.#cacheHits.standard++;
    }
  };

  /** The metric series of an ended operation: by operation, region, pool, key, cache result and error. */
  #rowFor(m: OperationEndMessage): CounterRow {
    const key = this.#metricsByKey ? (m.keyArn ?? m.keyId) : undefined;
    const error = m.error?.name;
    const id = `${m.operation}\u0000${m.region}\u0000${m.pool}\u0000${key ?? ''}\u0000${m.cache}\u0000${error ?? ''}`;
    return this.#counters.row(id, () => {
      const attributes: Attributes = {
        [ATTR_RPC_SYSTEM]: RPC_SYSTEM_VALUE_AWS_API,
        [ATTR_RPC_SERVICE]: 'KMS',
        [ATTR_RPC_METHOD]: m.operation,
        [ATTR_CLOUD_REGION]: m.region,
        [ATTR_QUOTA_POOL]: m.pool,
        [ATTR_CACHE_RESULT]: m.cache,
      };
      if (key !== undefined) attributes[ATTR_KMS_KEY] = key;
      if (error !== undefined) attributes[ATTR_ERROR_TYPE] = error;
      return attributes;
    });
  }

  /**
   * {@link #rowFor} through the shape's memo: for an operation that ended without error, two lookups by
   * strings the messages already hold instead of building the row's id.
   */
  #rowOf(shape: OperationShape, m: OperationEndMessage): CounterRow {
    if (m.error !== undefined) return this.#rowFor(m);
    const byCache = ShapeCache.rowsFor(shape, this.#metricsByKey ? (m.keyArn ?? '') : '');
    let row = byCache.get(m.cache);
    if (row === undefined) {
      row = this.#rowFor(m);
      byCache.set(m.cache, row);
    }
    return row;
  }

  readonly #onEnd = (m: OperationEndMessage): void => {
    // A message that breaks the contract would turn every later sum into NaN; drop it instead.
    if (!isCount(m.attempts) || !isCount(m.throttles) || !Number.isFinite(m.durationMs)) {
      log.warn('ignored an operation:end message that does not match the contract');
      return;
    }
    const op = this.#open.get(m.operationId);
    this.#open.delete(m.operationId);
    const shape = op?.shape ?? this.#shapes.get(m);
    const billing = shape.billing;
    const billable = this.#prices.billThrottledRequests
      ? m.attempts
      : Math.max(0, m.attempts - m.throttles);
    const costUsd = billable * shape.pricePerRequest;
    const hit = m.cache === 'hit' || m.cache === 'coalesced';
    const retries = op?.retries ?? Math.max(0, m.attempts - 1);

    this.#requests[billing] += billable;
    this.#throttles += m.throttles;
    if (hit) this.#cacheHits[billing]++;

    const row = this.#rowOf(shape, m);
    // The one metric still recorded per call: the SDK hashes the attribute set on every record (about
    // 2.5 microseconds here), and a histogram has no observable form to report sums at collection.
    this.#instruments.duration.record(m.durationMs / 1000, row.attributes);
    row.requests += m.attempts;
    row.throttles += m.throttles;
    row.retries += retries;
    row.costUsd += costUsd;
    if (hit) {
      row.cacheHits++;
      row.savedUsd += shape.pricePerRequest;
    }

    if (op === undefined) return;
    const span = op.span;
    if (span.isRecording()) {
      const end: Attributes = {
        [ATTR_ATTEMPTS]: m.attempts,
        [ATTR_THROTTLES]: m.throttles,
        [ATTR_RETRIES]: retries,
        [ATTR_LIMITER_WAIT_MS]: m.waitMs,
        [ATTR_CACHE_RESULT]: m.cache,
        [ATTR_COST_USD]: costUsd,
      };
      if (m.keyArn !== undefined) end[ATTR_KMS_KEY_ARN] = m.keyArn;
      if (m.requestId !== undefined) end[ATTR_AWS_REQUEST_ID] = m.requestId;
      const only = op.okAttempt;
      if (only !== undefined) {
        op.okAttempt = undefined;
        if (m.attempts === 1) {
          // A single successful attempt is summarised on the span rather than as an event: its outcome
          // is the span's (no error), its request id is `aws.request_id`; what only it knows is here.
          end[ATTR_ATTEMPT_DURATION_MS] = only.durationMs;
          if (only.httpStatus !== undefined) end[ATTR_HTTP_RESPONSE_STATUS_CODE] = only.httpStatus;
        } else {
          this.#addAttemptEvent(span, only);
        }
      }
      if (m.error !== undefined) {
        end[ATTR_ERROR_TYPE] = m.error.name;
        if (m.error.code !== undefined) end[ATTR_ERROR_CODE] = m.error.code;
        // The name only: an error message may quote request data, which must not leave the process.
        span.setStatus({ code: SpanStatusCode.ERROR, message: m.error.name });
      }
      span.setAttributes(end);
    }
    const hook = this.#options.endHook;
    if (hook !== undefined) this.#runHook('endHook', () => hook(span, { message: m, costUsd }));
    span.end();
  };
}
