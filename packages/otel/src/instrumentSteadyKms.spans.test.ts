import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  channels,
  type AttemptEndMessage,
  type OperationEndMessage,
  type OperationStartMessage,
} from '@steadykms/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instrumentSteadyKms, type SteadyKmsOtelHandle } from './instrumentSteadyKms.js';
import type { SteadyKmsOtelOptions } from './types.js';

// These tests drive the subscriber through its real input: contract-shaped messages published on core's
// real diagnostics channels (packages/core/src/events/channels.ts).

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
let handle: SteadyKmsOtelHandle | undefined;
let nextId = 1_000;

function instrument(options: SteadyKmsOtelOptions = {}): SteadyKmsOtelHandle {
  handle = instrumentSteadyKms({ tracerProvider, ...options });
  return handle;
}

beforeEach(() => {
  exporter.reset();
});
afterEach(() => {
  handle?.disable();
  handle = undefined;
});

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function start(over: Partial<OperationStartMessage> = {}): OperationStartMessage {
  const m: OperationStartMessage = {
    operationId: nextId++,
    operation: 'Decrypt',
    region: 'eu-west-1',
    accountId: '111122223333',
    pool: 'symmetric',
    billing: 'standard',
    keyId: KEY_ARN,
    encryptionContext: undefined,
    startTime: Date.now(),
    ...over,
  };
  channels.operationStart.publish(m);
  return m;
}

function attempt(s: OperationStartMessage, n: number, over: Partial<AttemptEndMessage> = {}): void {
  const base = {
    operationId: s.operationId,
    operation: s.operation,
    attempt: n,
    pool: s.pool,
    region: s.region,
  };
  channels.attemptStart.publish(base);
  const m: AttemptEndMessage = {
    ...base,
    durationMs: 3,
    httpStatus: 200,
    requestId: `req-${n}`,
    outcome: 'ok',
    errorName: undefined,
    ...over,
  };
  channels.attemptEnd.publish(m);
}

function end(s: OperationStartMessage, over: Partial<OperationEndMessage> = {}): void {
  const m: OperationEndMessage = {
    operationId: s.operationId,
    operation: s.operation,
    region: s.region,
    accountId: s.accountId,
    pool: s.pool,
    billing: s.billing,
    keyId: s.keyId,
    keyArn: KEY_ARN,
    requestId: 'req-1',
    attempts: 1,
    throttles: 0,
    waitMs: 0,
    durationMs: 5,
    cache: 'miss',
    error: undefined,
    ...over,
  };
  channels.operationEnd.publish(m);
}

function only(): ReadableSpan {
  const spans = exporter.getFinishedSpans();
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

describe('instrumentSteadyKms spans', () => {
  it('makes one CLIENT span KMS.<Operation> with the RPC, key, pool, wait, cache and cost attributes', () => {
    instrument();
    const s = start();
    channels.limiterWait.publish({
      operationId: s.operationId,
      pool: 'symmetric',
      region: 'eu-west-1',
      accountId: '111122223333',
      waitMs: 12,
      priority: 'interactive',
    });
    attempt(s, 1);
    end(s, { waitMs: 12 });
    const span = only();
    expect(span.name).toBe('KMS.Decrypt');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.instrumentationScope.name).toBe('@steadykms/otel');
    expect(span.attributes).toMatchObject({
      'rpc.system': 'aws-api',
      'rpc.service': 'KMS',
      'rpc.method': 'Decrypt',
      'cloud.region': 'eu-west-1',
      'cloud.account.id': '111122223333',
      'aws.request_id': 'req-1',
      'steadykms.kms.key_id': KEY_ARN,
      'steadykms.kms.key_arn': KEY_ARN,
      'steadykms.quota.pool': 'symmetric',
      'steadykms.billing.class': 'standard',
      'steadykms.attempts': 1,
      'steadykms.throttles': 0,
      'steadykms.retries': 0,
      'steadykms.limiter.wait_ms': 12,
      'steadykms.cache.result': 'miss',
    });
    expect(span.attributes['steadykms.cost.usd']).toBeCloseTo(0.000003, 12);
    expect(span.attributes['steadykms.kms.key_alias']).toBeUndefined();
    expect(span.attributes['error.type']).toBeUndefined();
    // A single successful attempt is summarised on the span instead of an event of its own.
    expect(span.events.map((e) => e.name)).toEqual(['steadykms.limiter.wait']);
    expect(span.attributes).toMatchObject({
      'steadykms.attempt.duration_ms': 3,
      'http.response.status_code': 200,
    });
  });

  it('adds a held-back successful first attempt as an event when more of the operation follows it', () => {
    instrument();
    const s = start();
    attempt(s, 1);
    channels.cache.publish({
      cache: 'decrypt',
      event: 'evict',
      operation: 'Decrypt',
      operationId: s.operationId,
      keyId: KEY_ARN,
      reason: 'capacity',
    });
    end(s);
    const span = only();
    expect(span.events.map((e) => e.name)).toEqual(['steadykms.attempt', 'steadykms.cache']);
    expect(span.events[0]!.attributes).toMatchObject({
      'steadykms.attempt': 1,
      'steadykms.attempt.outcome': 'ok',
      'steadykms.attempt.duration_ms': 3,
      'http.response.status_code': 200,
      'aws.request_id': 'req-1',
    });
    expect(span.attributes['steadykms.attempt.duration_ms']).toBeUndefined();
  });

  it('records throttles and retries as events, and does not bill the throttled attempt', () => {
    instrument();
    const s = start({ operation: 'GenerateDataKey' });
    attempt(s, 1, {
      outcome: 'throttled',
      httpStatus: 400,
      errorName: 'ThrottlingException',
    });
    channels.throttle.publish({
      operationId: s.operationId,
      operation: s.operation,
      attempt: 1,
      pool: 'symmetric',
      region: 'eu-west-1',
      accountId: '111122223333',
      rate: 50,
    });
    channels.retry.publish({
      operationId: s.operationId,
      operation: s.operation,
      attempt: 1,
      delayMs: 120,
      reason: 'throttled',
    });
    attempt(s, 2);
    end(s, { attempts: 2, throttles: 1, requestId: 'req-2' });
    const span = only();
    expect(span.name).toBe('KMS.GenerateDataKey');
    expect(span.events.map((e) => e.name)).toEqual([
      'steadykms.attempt',
      'steadykms.throttle',
      'steadykms.retry',
      'steadykms.attempt',
    ]);
    expect(span.events[0]!.attributes).toMatchObject({
      'steadykms.attempt.outcome': 'throttled',
      'error.type': 'ThrottlingException',
    });
    expect(span.events[1]!.attributes).toMatchObject({
      'steadykms.attempt': 1,
      'steadykms.limiter.rate': 50,
    });
    expect(span.events[2]!.attributes).toMatchObject({
      'steadykms.retry.delay_ms': 120,
      'steadykms.retry.reason': 'throttled',
    });
    expect(span.attributes).toMatchObject({
      'steadykms.attempts': 2,
      'steadykms.throttles': 1,
      'steadykms.retries': 1,
      'aws.request_id': 'req-2',
    });
    expect(span.attributes['steadykms.cost.usd']).toBeCloseTo(0.000003, 12);
    expect(handle!.usage().requests.standard).toBe(1);
    expect(handle!.usage().throttles).toBe(1);
  });

  it('sets error status and error.type, naming the error but not quoting its message', () => {
    instrument();
    const s = start();
    attempt(s, 1, { outcome: 'error', httpStatus: 400, errorName: 'NotFoundException' });
    end(s, { error: { name: 'NotFoundException', code: 'KMS_ERROR' }, keyArn: undefined });
    const span = only();
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'NotFoundException' });
    expect(span.attributes['error.type']).toBe('NotFoundException');
    expect(span.attributes['steadykms.error.code']).toBe('KMS_ERROR');
    expect(span.attributes['steadykms.kms.key_arn']).toBeUndefined();
  });

  it('reports a cache hit with no attempt and no cost, and the cache event on the span', () => {
    instrument();
    const s = start();
    channels.cache.publish({
      cache: 'decrypt',
      event: 'hit',
      operation: 'Decrypt',
      operationId: s.operationId,
      keyId: KEY_ARN,
      reason: undefined,
    });
    end(s, { attempts: 0, cache: 'hit', requestId: undefined });
    const span = only();
    expect(span.attributes).toMatchObject({
      'steadykms.cache.result': 'hit',
      'steadykms.attempts': 0,
      'steadykms.cost.usd': 0,
    });
    expect(span.attributes['aws.request_id']).toBeUndefined();
    expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
      ['steadykms.cache', { 'steadykms.cache.name': 'decrypt', 'steadykms.cache.event': 'hit' }],
    ]);
    expect(handle!.usage().cacheHits.standard).toBe(1);
  });

  it('records the alias the caller used', () => {
    instrument();
    const s = start({ keyId: 'alias/payments', operation: 'Encrypt' });
    end(s);
    expect(only().attributes).toMatchObject({
      'steadykms.kms.key_id': 'alias/payments',
      'steadykms.kms.key_alias': 'alias/payments',
      'steadykms.kms.key_arn': KEY_ARN,
    });
  });

  it('correlates interleaved operations by operationId', () => {
    instrument();
    const a = start({ operation: 'Encrypt' });
    const b = start({ operation: 'Decrypt' });
    attempt(b, 1, { requestId: 'b-1', durationMs: 7 });
    attempt(a, 1, { requestId: 'a-1', durationMs: 9 });
    end(b, { requestId: 'b-1' });
    end(a, { requestId: 'a-1' });
    const spans = exporter.getFinishedSpans();
    // Each span's single attempt is summarised on it (`steadykms.attempt.duration_ms`), from its own message.
    expect(
      spans.map((x) => [
        x.name,
        x.attributes['aws.request_id'],
        x.attributes['steadykms.attempt.duration_ms'],
      ]),
    ).toEqual([
      ['KMS.Decrypt', 'b-1', 7],
      ['KMS.Encrypt', 'a-1', 9],
    ]);
  });

  it('records encryption-context keys, allow-listed values, and keyed hashes of the rest', () => {
    instrument({ allowListedContextKeys: ['purpose'], hashKey: 'fleet-key' });
    const s = start({ encryptionContext: { purpose: 'backup', tenant: 'secret-tenant-42' } });
    end(s);
    const s2 = start({ encryptionContext: { tenant: 'secret-tenant-42' } });
    end(s2);
    const [one, two] = exporter.getFinishedSpans();
    expect(one!.attributes['steadykms.encryption_context.keys']).toEqual(['purpose', 'tenant']);
    expect(one!.attributes['steadykms.encryption_context.purpose']).toBe('backup');
    const hashed = one!.attributes['steadykms.encryption_context.tenant'];
    expect(hashed).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    expect(two!.attributes['steadykms.encryption_context.tenant']).toBe(hashed);
    expect(JSON.stringify(exporter.getFinishedSpans().map((x) => x.attributes))).not.toContain(
      'secret-tenant-42',
    );
  });

  it('runs throwing hooks inside a try/catch: the span still ends', () => {
    const seen: string[] = [];
    instrument({
      startHook: (span, info) => {
        seen.push(`start ${info.message.operation}`);
        span.setAttribute('user.start', true);
        throw new Error('start hook bug');
      },
      endHook: (_span, info) => {
        seen.push(`end ${info.costUsd > 0}`);
        throw new Error('end hook bug');
      },
    });
    const s = start();
    expect(() => end(s)).not.toThrow();
    expect(seen).toEqual(['start Decrypt', 'end true']);
    expect(only().attributes['user.start']).toBe(true);
  });

  it('survives malformed messages without throwing into the publisher', () => {
    instrument();
    expect(() => channels.operationEnd.publish({})).not.toThrow();
    expect(() => channels.operationStart.publish(null)).not.toThrow();
    expect(() => channels.limiterWait.publish(undefined)).not.toThrow();
    expect(handle!.usage().requests.standard).toBe(0);
  });

  it('stops on disable(), ending in-flight spans as incomplete', () => {
    const h = instrument();
    const s = start();
    h.disable();
    expect(h.enabled).toBe(false);
    end(s);
    start();
    const span = only();
    expect(span.attributes['steadykms.incomplete']).toBe(true);
    expect(channels.operationStart.hasSubscribers).toBe(false);
  });

  it('bounds the operations it tracks', () => {
    instrument({ maxOpenOperations: 2 });
    const a = start();
    start();
    start();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes['steadykms.incomplete']).toBe(true);
    end(a); // already evicted: no second span
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(() => instrumentSteadyKms({ maxOpenOperations: 0 })).toThrow(/maxOpenOperations/);
  });

  it('projects a month even the instant counting starts', () => {
    const h = instrument();
    expect(h.usage().observedSeconds).toBeGreaterThan(0);
    expect(h.estimateMonthlyCost({ keys: 1 }).totalUsd).toBe(1);
  });
});
