import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { channels, type OperationEndMessage, type OperationStartMessage } from '@steadykms/core';
import { AlwaysOffSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instrumentSteadyKms, type SteadyKmsOtelHandle } from './instrumentSteadyKms.js';
import type { SteadyKmsOtelOptions } from './types.js';

// Driven through core's real diagnostics channels with contract-shaped messages; read back through the
// real metrics SDK. A fresh MeterProvider per test, because cumulative sums outlive an exporter reset.

let exporter: InMemoryMetricExporter;
let reader: PeriodicExportingMetricReader;
let meterProvider: MeterProvider;
let handle: SteadyKmsOtelHandle | undefined;
let nextId = 5_000;

beforeEach(() => {
  exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  exporter.reset();
  reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  meterProvider = new MeterProvider({ readers: [reader] });
});
afterEach(async () => {
  handle?.disable();
  handle = undefined;
  await meterProvider.shutdown();
});

function instrument(options: SteadyKmsOtelOptions = {}): SteadyKmsOtelHandle {
  handle = instrumentSteadyKms({ meterProvider, ...options });
  return handle;
}

async function collect(): Promise<Map<string, MetricData>> {
  await reader.forceFlush();
  const all = exporter.getMetrics();
  const last = all[all.length - 1];
  const out = new Map<string, MetricData>();
  for (const scope of last?.scopeMetrics ?? []) {
    for (const m of scope.metrics) out.set(m.descriptor.name, m);
  }
  return out;
}

function sum(m: MetricData | undefined, where: Attributes = {}): number {
  let total = 0;
  for (const p of (m?.dataPoints ?? []) as DataPoint<number>[]) {
    if (Object.entries(where).every(([k, v]) => p.attributes[k] === v)) total += p.value;
  }
  return total;
}

function histogramCount(m: MetricData | undefined): { count: number; sum: number } {
  let count = 0;
  let total = 0;
  for (const p of (m?.dataPoints ?? []) as DataPoint<Histogram>[]) {
    count += p.value.count;
    total += p.value.sum ?? 0;
  }
  return { count, sum: total };
}

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/k1';

function op(
  operation: string,
  end: Partial<OperationEndMessage>,
  start: Partial<OperationStartMessage> = {},
): void {
  const s: OperationStartMessage = {
    operationId: nextId++,
    operation,
    region: 'us-east-1',
    accountId: '111122223333',
    pool: 'symmetric',
    billing: 'standard',
    keyId: KEY,
    encryptionContext: undefined,
    startTime: Date.now(),
    ...start,
  };
  channels.operationStart.publish(s);
  for (let i = 1; i < (end.attempts ?? 1); i++) {
    channels.retry.publish({
      operationId: s.operationId,
      operation,
      attempt: i,
      delayMs: 10,
      reason: 'throttled',
    });
  }
  channels.operationEnd.publish({
    operationId: s.operationId,
    operation,
    region: s.region,
    accountId: s.accountId,
    pool: s.pool,
    billing: s.billing,
    keyId: s.keyId,
    keyArn: KEY,
    requestId: 'r',
    attempts: 1,
    throttles: 0,
    waitMs: 0,
    durationMs: 250,
    cache: 'miss',
    error: undefined,
    ...end,
  } satisfies OperationEndMessage);
}

describe('instrumentSteadyKms metrics', () => {
  it('counts requests, throttles, retries, cache hits and cost per operation, pool, key and region', async () => {
    instrument();
    op('GenerateDataKey', {});
    op('GenerateDataKey', {});
    op('GenerateDataKey', { attempts: 3, throttles: 2 });
    op('Decrypt', { attempts: 0, cache: 'hit' });
    op('Decrypt', { attempts: 0, cache: 'coalesced' });
    op('Decrypt', { error: { name: 'InvalidCiphertextException', code: 'KMS_ERROR' } });
    op('Sign', { durationMs: 1_000 }, { pool: 'rsa', billing: 'asymmetric', region: 'eu-west-1' });
    const m = await collect();

    expect(sum(m.get('steadykms.kms.requests'))).toBe(1 + 1 + 3 + 0 + 0 + 1 + 1);
    expect(sum(m.get('steadykms.kms.requests'), { 'rpc.method': 'GenerateDataKey' })).toBe(5);
    expect(
      sum(m.get('steadykms.kms.requests'), {
        'rpc.method': 'Sign',
        'steadykms.quota.pool': 'rsa',
        'cloud.region': 'eu-west-1',
        'steadykms.kms.key': KEY,
      }),
    ).toBe(1);
    expect(
      sum(m.get('steadykms.kms.requests'), { 'error.type': 'InvalidCiphertextException' }),
    ).toBe(1);
    expect(sum(m.get('steadykms.kms.throttles'))).toBe(2);
    expect(sum(m.get('steadykms.kms.retries'))).toBe(2);
    expect(sum(m.get('steadykms.cache.hits'))).toBe(2);
    expect(sum(m.get('steadykms.cache.hits'), { 'steadykms.cache.result': 'coalesced' })).toBe(1);
    // Billable: 1 + 1 + (3 - 2 throttled) + 1 failed standard requests, and 1 asymmetric one.
    expect(sum(m.get('steadykms.kms.cost'))).toBeCloseTo(4 * 0.000003 + 0.000015, 12);
    expect(sum(m.get('steadykms.kms.cost.saved'))).toBeCloseTo(2 * 0.000003, 12);

    const duration = m.get('rpc.client.call.duration');
    expect(duration?.descriptor.unit).toBe('s');
    expect(histogramCount(duration)).toEqual({ count: 7, sum: 6 * 0.25 + 1 });
    expect(m.get('steadykms.kms.cost')?.descriptor.unit).toBe('USD');
    expect(m.get('steadykms.kms.requests')?.descriptor.unit).toBe('{request}');

    const usage = handle!.usage();
    expect(usage.requests).toEqual({
      standard: 4,
      asymmetric: 1,
      'ecc-data-key-pair': 0,
      'rsa-data-key-pair': 0,
    });
    expect(usage.cacheHits.standard).toBe(2);
    expect(handle!.estimateMonthlyCost({ keys: 2 }).keysUsd).toBe(2);
  });

  it('sums operations whose spans differ but whose metric attributes match into one series', async () => {
    instrument();
    // The account and the key as named are on spans, not on metrics: these three share one series.
    op('Encrypt', {}, { accountId: '111122223333' });
    op('Encrypt', {}, { accountId: '444455556666' });
    op('Encrypt', {}, { keyId: 'alias/k1' });
    // A different ARN in the response is a different series.
    op('Encrypt', { keyArn: `${KEY}-other` });
    const requests = (await collect()).get('steadykms.kms.requests');
    const points = requests!.dataPoints.filter((p) => p.attributes['rpc.method'] === 'Encrypt');
    expect(points.map((p) => [p.attributes['steadykms.kms.key'], p.value])).toEqual([
      [KEY, 3],
      [`${KEY}-other`, 1],
    ]);
  });

  it('records limiter waits in seconds, and keeps the last rate of each pool for the gauges', async () => {
    instrument();
    const wait = (waitMs: number): void =>
      channels.limiterWait.publish({
        operationId: undefined,
        pool: 'symmetric',
        region: 'us-east-1',
        accountId: undefined,
        waitMs,
        priority: 'batch',
      });
    wait(0);
    wait(500);
    const rate = (pool: string, r: number): void =>
      channels.rate.publish({
        pool,
        region: 'us-east-1',
        accountId: '111122223333',
        rate: r,
        ceiling: 1000,
        quota: 2000,
      });
    rate('symmetric', 400);
    rate('symmetric', 800);
    rate('rsa', 100);
    const m = await collect();
    expect(histogramCount(m.get('steadykms.limiter.wait'))).toEqual({ count: 2, sum: 0.5 });
    expect(m.get('steadykms.limiter.wait')?.dataPoints[0]?.attributes).toMatchObject({
      'steadykms.quota.pool': 'symmetric',
      'steadykms.limiter.priority': 'batch',
    });
    const rates = m.get('steadykms.limiter.rate')?.dataPoints ?? [];
    expect(rates.map((p) => [p.attributes['steadykms.quota.pool'], p.value])).toEqual([
      ['symmetric', 800],
      ['rsa', 100],
    ]);
    expect(sum(m.get('steadykms.limiter.ceiling'), { 'steadykms.quota.pool': 'rsa' })).toBe(1000);
    expect(sum(m.get('steadykms.limiter.quota'), { 'steadykms.quota.pool': 'rsa' })).toBe(2000);
    expect(rates[0]?.attributes['cloud.account.id']).toBe('111122223333');
  });

  it('counts a decrypt-cache hit once, and data-key cache hits and joins from the cache channel', async () => {
    instrument();
    const id = nextId;
    channels.cache.publish({
      cache: 'decrypt',
      event: 'hit',
      operation: 'Decrypt',
      operationId: id,
      keyId: KEY,
      reason: undefined,
    });
    op('Decrypt', { attempts: 0, cache: 'hit' });
    channels.cache.publish({
      cache: 'data-key',
      event: 'hit',
      operation: 'GenerateDataKey',
      operationId: undefined,
      keyId: KEY,
      reason: undefined,
    });
    channels.cache.publish({
      cache: 'data-key',
      event: 'coalesced',
      operation: undefined,
      operationId: undefined,
      keyId: KEY,
      reason: undefined,
    });
    channels.cache.publish({
      cache: 'data-key',
      event: 'evict',
      operation: undefined,
      operationId: undefined,
      keyId: KEY,
      reason: 'maxAge',
    });
    const m = await collect();
    expect(sum(m.get('steadykms.cache.hits'))).toBe(3);
    expect(sum(m.get('steadykms.cache.hits'), { 'steadykms.cache.name': 'data-key' })).toBe(2);
    expect(
      sum(m.get('steadykms.cache.hits'), {
        'steadykms.cache.name': 'data-key',
        'steadykms.cache.result': 'coalesced',
      }),
    ).toBe(1);
    expect(sum(m.get('steadykms.kms.cost.saved'))).toBeCloseTo(3 * 0.000003, 12);
    expect(handle!.usage().cacheHits.standard).toBe(3);
  });

  it('leaves the key off metrics when metricsByKey is false, and uses overridden prices', async () => {
    instrument({ metricsByKey: false, prices: { requestsPer10kUsd: { standard: 10_000 } } });
    op('Encrypt', {});
    const m = await collect();
    const points = m.get('steadykms.kms.requests')?.dataPoints ?? [];
    expect(points).toHaveLength(1);
    expect(points[0]!.attributes['steadykms.kms.key']).toBeUndefined();
    expect(sum(m.get('steadykms.kms.cost'))).toBe(1);
  });

  it('stops reporting gauges after disable()', async () => {
    const h = instrument();
    channels.rate.publish({
      pool: 'symmetric',
      region: 'us-east-1',
      accountId: undefined,
      rate: 1,
      ceiling: 2,
      quota: 2,
    });
    h.disable();
    const m = await collect();
    expect(m.get('steadykms.limiter.rate')?.dataPoints ?? []).toHaveLength(0);
  });

  it('still counts when the sampler drops the spans', async () => {
    const tracerProvider = new BasicTracerProvider({ sampler: new AlwaysOffSampler() });
    instrument({ tracerProvider, allowListedContextKeys: [] });
    op('Encrypt', {}, { encryptionContext: { tenant: 't' } });
    op('Encrypt', { attempts: 2, throttles: 1 });
    const m = await collect();
    expect(sum(m.get('steadykms.kms.requests'))).toBe(3);
    expect(sum(m.get('steadykms.kms.throttles'))).toBe(1);
    expect(histogramCount(m.get('rpc.client.call.duration')).count).toBe(2);
  });
});
