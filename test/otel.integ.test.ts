import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { SpanKind, SpanStatusCode, context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  DataKeyCache,
  getDecryptCachePlugin,
  withSteadyKms,
  type CacheMiddlewareOptions,
  type SteadyKmsPluginOptions,
} from '@steadykms/core';
import {
  estimateCost,
  instrumentSteadyKms,
  type SteadyKmsOtelHandle,
  type SteadyKmsOtelOptions,
} from '@steadykms/otel';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeClock, startTestKms, type FakeClock, type TestKms } from './support/index.js';

// End to end: the real AWS SDK with the steadykms plugin, against local-kms over HTTP, observed through
// the real OpenTelemetry SDK (in-memory exporters, AsyncLocalStorage context manager).

const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});
const callerTracer = tracerProvider.getTracer('the-application');
const contextManager = new AsyncLocalStorageContextManager();

let metricExporter: InMemoryMetricExporter;
let reader: PeriodicExportingMetricReader;
let meterProvider: MeterProvider;
let otel: SteadyKmsOtelHandle | undefined;
let kms: TestKms | undefined;

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});
beforeEach(() => {
  spanExporter.reset();
  metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  meterProvider = new MeterProvider({ readers: [reader] });
});
afterEach(async () => {
  otel?.disable();
  otel = undefined;
  await kms?.close();
  kms = undefined;
  await meterProvider.shutdown();
});

function instrument(options: SteadyKmsOtelOptions = {}): SteadyKmsOtelHandle {
  otel = instrumentSteadyKms({ tracerProvider, meterProvider, ...options });
  return otel;
}

/** A client with the steadykms plugin; setup calls go through a bare client so they are not observed. */
function steadyClient(k: TestKms, options: SteadyKmsPluginOptions = {}): KMSClient {
  return withSteadyKms(k.client({ maxAttempts: 3 }), { quotas: false, ...options });
}

async function newKey(k: TestKms, alias?: string): Promise<string> {
  const bare = k.client();
  const arn = (await bare.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  if (alias !== undefined)
    await bare.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: arn }));
  return arn;
}

/** A sleep for the plugin's retries that moves local-kms's clock to the next quota window. */
function windowSleep(clock: FakeClock): (ms: number) => Promise<void> {
  return () => {
    clock.advance(1000);
    return Promise.resolve();
  };
}

function kmsSpans(): ReadableSpan[] {
  return spanExporter
    .getFinishedSpans()
    .filter((s) => s.instrumentationScope.name === '@steadykms/otel');
}

async function collect(): Promise<Map<string, MetricData>> {
  await reader.forceFlush();
  const all = metricExporter.getMetrics();
  const out = new Map<string, MetricData>();
  for (const scope of all[all.length - 1]?.scopeMetrics ?? []) {
    for (const m of scope.metrics) out.set(m.descriptor.name, m);
  }
  return out;
}

function sum(m: MetricData | undefined, where: Record<string, unknown> = {}): number {
  let total = 0;
  for (const p of (m?.dataPoints ?? []) as DataPoint<number>[]) {
    if (Object.entries(where).every(([k, v]) => p.attributes[k] === v)) total += p.value;
  }
  return total;
}

function histogram(m: MetricData | undefined): { count: number; sum: number } {
  let count = 0;
  let total = 0;
  for (const p of (m?.dataPoints ?? []) as DataPoint<Histogram>[]) {
    count += p.value.count;
    total += p.value.sum ?? 0;
  }
  return { count, sum: total };
}

const PRICE = 0.03 / 10_000;

interface DataKeyValue {
  readonly plaintext: Uint8Array;
  readonly ciphertextBlob: Uint8Array;
  readonly keyId: string;
}

describe('otel end to end: spans', () => {
  it('makes one CLIENT span per call, child of the caller span, with the audit attributes', async () => {
    kms = await startTestKms({ quotas: false });
    const arn = await newKey(kms, 'alias/otel-app');
    const client = steadyClient(kms);
    instrument({ allowListedContextKeys: ['purpose'] });

    const out = await callerTracer.startActiveSpan('handle-request', async (parent) => {
      try {
        return await client.send(
          new GenerateDataKeyCommand({
            KeyId: 'alias/otel-app',
            KeySpec: 'AES_256',
            EncryptionContext: { purpose: 'invoice', tenant: 'tenant-secret-7' },
          }),
        );
      } finally {
        parent.end();
      }
    });

    const [span, ...rest] = kmsSpans();
    expect(rest).toHaveLength(0);
    const parent = spanExporter.getFinishedSpans().find((s) => s.name === 'handle-request')!;
    expect(span!.name).toBe('KMS.GenerateDataKey');
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span!.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes).toMatchObject({
      'rpc.system': 'aws-api',
      'rpc.service': 'KMS',
      'rpc.method': 'GenerateDataKey',
      'cloud.region': 'us-east-1',
      'aws.request_id': out.$metadata.requestId,
      'steadykms.kms.key_id': 'alias/otel-app',
      'steadykms.kms.key_alias': 'alias/otel-app',
      'steadykms.kms.key_arn': arn,
      'steadykms.quota.pool': 'symmetric',
      'steadykms.billing.class': 'standard',
      'steadykms.attempts': 1,
      'steadykms.throttles': 0,
      'steadykms.retries': 0,
      'steadykms.limiter.wait_ms': 0,
      'steadykms.cache.result': 'bypass',
      'steadykms.encryption_context.keys': ['purpose', 'tenant'],
      'steadykms.encryption_context.purpose': 'invoice',
    });
    expect(span!.attributes['steadykms.cost.usd']).toBeCloseTo(PRICE, 12);
    expect(span!.attributes['steadykms.encryption_context.tenant']).toMatch(
      /^hmac-sha256:[0-9a-f]{32}$/,
    );
    // The single successful attempt is summarised on the span rather than as an event.
    expect(span!.events).toEqual([]);
    expect(span!.attributes['http.response.status_code']).toBe(200);
    expect(span!.attributes['steadykms.attempt.duration_ms']).toBeGreaterThanOrEqual(0);
  });

  it('shows throttle-then-success as one span with throttle, attempt and retry events', async () => {
    const clock = fakeClock();
    kms = await startTestKms({ clock, quotas: { overrides: { symmetric: 1 } } });
    const arn = await newKey(kms);
    kms.server.resetStats();
    clock.advance(1000);
    const client = steadyClient(kms, { sleep: windowSleep(clock) });
    instrument();

    await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
    await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));

    expect(kms.server.stats().total).toMatchObject({ accepted: 2, throttled: 1 });
    const spans = kmsSpans();
    expect(spans.map((s) => s.name)).toEqual(['KMS.GenerateDataKey', 'KMS.GenerateDataKey']);
    const span = spans[1]!;
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toMatchObject({
      'steadykms.attempts': 2,
      'steadykms.throttles': 1,
      'steadykms.retries': 1,
      'steadykms.kms.key_arn': arn,
    });
    // The throttled attempt is not billed (KMS_PRICES.billThrottledRequests is false).
    expect(span.attributes['steadykms.cost.usd']).toBeCloseTo(PRICE, 12);
    // Core publishes the throttle before the attempt's end, then the retry.
    expect(span.events.map((e) => e.name)).toEqual([
      'steadykms.throttle',
      'steadykms.attempt',
      'steadykms.retry',
      'steadykms.attempt',
    ]);
    expect(span.events[1]!.attributes).toMatchObject({
      'steadykms.attempt': 1,
      'steadykms.attempt.outcome': 'throttled',
      'http.response.status_code': 400,
      'error.type': 'ThrottlingException',
    });
    expect(span.events[2]!.attributes).toMatchObject({
      'steadykms.attempt': 1,
      'steadykms.retry.reason': 'throttled',
    });
    expect(span.events[3]!.attributes).toMatchObject({
      'steadykms.attempt': 2,
      'steadykms.attempt.outcome': 'ok',
    });
  });

  it('marks a failed call with error status and error.type', async () => {
    kms = await startTestKms({ quotas: false });
    const client = steadyClient(kms);
    instrument();
    await expect(
      client.send(new GenerateDataKeyCommand({ KeyId: 'alias/missing', KeySpec: 'AES_256' })),
    ).rejects.toMatchObject({ name: 'NotFoundException' });
    const [span] = kmsSpans();
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'NotFoundException' });
    expect(span!.attributes).toMatchObject({
      'error.type': 'NotFoundException',
      'steadykms.error.code': 'KMS_ERROR',
      'steadykms.attempts': 1,
      'steadykms.kms.key_alias': 'alias/missing',
    });
    expect(span!.events[0]!.attributes).toMatchObject({
      'steadykms.attempt.outcome': 'error',
      'error.type': 'NotFoundException',
    });
  });

  it('keeps a call working when user hooks throw', async () => {
    kms = await startTestKms({ quotas: false });
    const arn = await newKey(kms);
    const client = steadyClient(kms);
    let calls = 0;
    instrument({
      startHook: () => {
        calls++;
        throw new Error('start hook bug');
      },
      endHook: (span) => {
        calls++;
        span.setAttribute('app.hooked', true);
        throw new Error('end hook bug');
      },
    });
    const out = await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
    expect(out.Plaintext).toHaveLength(32);
    expect(calls).toBe(2);
    expect(kmsSpans()[0]!.attributes['app.hooked']).toBe(true);
  });
});

describe('otel end to end: caches', () => {
  /** A steadykms client with the cache middleware added after the plugin's operation middleware. */
  async function cachedSetup(
    cache: CacheMiddlewareOptions,
  ): Promise<{ client: KMSClient; blob: Uint8Array; arn: string }> {
    kms = await startTestKms({ quotas: false });
    const arn = await newKey(kms);
    const enc = await kms
      .client()
      .send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('cached secret') }));
    kms.server.resetStats();
    const client = steadyClient(kms);
    client.middlewareStack.use(getDecryptCachePlugin(cache));
    return { client, blob: enc.CiphertextBlob!, arn };
  }

  it('reports a Decrypt cache hit: no attempt, no cost, the saving counted once', async () => {
    const { client, blob, arn } = await cachedSetup({
      decryptCache: { ttlMs: 60_000, maxEntries: 10 },
    });
    instrument();
    await client.send(new DecryptCommand({ CiphertextBlob: blob }));
    await client.send(new DecryptCommand({ CiphertextBlob: blob }));

    const [miss, hit] = kmsSpans();
    expect(miss!.attributes).toMatchObject({
      'steadykms.cache.result': 'miss',
      'steadykms.attempts': 1,
      'steadykms.kms.key_arn': arn,
    });
    expect(hit!.name).toBe('KMS.Decrypt');
    expect(hit!.attributes).toMatchObject({
      'steadykms.cache.result': 'hit',
      'steadykms.attempts': 0,
      'steadykms.cost.usd': 0,
    });
    expect(hit!.events.map((e) => [e.name, e.attributes?.['steadykms.cache.event']])).toEqual([
      ['steadykms.cache', 'hit'],
    ]);
    const m = await collect();
    expect(sum(m.get('steadykms.kms.requests'))).toBe(kms!.server.stats().total.accepted);
    expect(sum(m.get('steadykms.kms.requests'))).toBe(1);
    expect(sum(m.get('steadykms.cache.hits'))).toBe(1);
    expect(sum(m.get('steadykms.cache.hits'), { 'steadykms.cache.result': 'hit' })).toBe(1);
    expect(sum(m.get('steadykms.kms.cost.saved'))).toBeCloseTo(PRICE, 12);
    expect(histogram(m.get('rpc.client.call.duration')).count).toBe(2);
  });

  it('reports coalesced calls: one request for identical concurrent Decrypts', async () => {
    const { client, blob } = await cachedSetup({ coalesce: true });
    instrument();
    await Promise.all(
      Array.from({ length: 5 }, () => client.send(new DecryptCommand({ CiphertextBlob: blob }))),
    );
    const results = kmsSpans().map((s) => s.attributes['steadykms.cache.result']);
    expect(results.sort()).toEqual(['coalesced', 'coalesced', 'coalesced', 'coalesced', 'miss']);
    for (const s of kmsSpans()) {
      const coalesced = s.attributes['steadykms.cache.result'] === 'coalesced';
      expect(s.attributes['steadykms.attempts']).toBe(coalesced ? 0 : 1);
    }
    const m = await collect();
    expect(kms!.server.stats().total.accepted).toBe(1);
    expect(sum(m.get('steadykms.kms.requests'))).toBe(1);
    expect(sum(m.get('steadykms.cache.hits'), { 'steadykms.cache.result': 'coalesced' })).toBe(4);
    expect(sum(m.get('steadykms.kms.cost.saved'))).toBeCloseTo(4 * PRICE, 12);
  });
});

describe('otel end to end: data-key cache', () => {
  it('counts GenerateDataKey calls the data-key cache avoided, and what they would have cost', async () => {
    kms = await startTestKms({ quotas: false });
    const arn = await newKey(kms);
    kms.server.resetStats();
    const client = steadyClient(kms);
    const cache = new DataKeyCache<DataKeyValue>({
      maxEntries: 10,
      maxAgeMs: 60_000,
      maxMessages: 100,
    });
    instrument();
    const load = async (): Promise<DataKeyValue> => {
      const out = await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
      return { plaintext: out.Plaintext!, ciphertextBlob: out.CiphertextBlob!, keyId: out.KeyId! };
    };
    const key = { keyId: arn, encryptionContext: { purpose: 'dk' }, keySpec: 'AES_256' };
    // Two concurrent first uses share one load (one miss, one join), then three hits.
    await Promise.all([0, 1].map(() => cache.use(key, { bytes: 1 }, load, () => undefined)));
    for (let i = 0; i < 3; i++) await cache.use(key, { bytes: 1 }, load, () => undefined);
    cache.close();

    expect(kms.server.stats().total.accepted).toBe(1);
    const m = await collect();
    expect(sum(m.get('steadykms.kms.requests'))).toBe(1);
    expect(sum(m.get('steadykms.cache.hits'), { 'steadykms.cache.name': 'data-key' })).toBe(4);
    expect(
      sum(m.get('steadykms.cache.hits'), {
        'steadykms.cache.name': 'data-key',
        'steadykms.cache.result': 'coalesced',
      }),
    ).toBe(1);
    expect(sum(m.get('steadykms.kms.cost.saved'))).toBeCloseTo(4 * PRICE, 12);
    expect(otel!.usage().cacheHits.standard).toBe(4);
    expect(kmsSpans().map((x) => x.name)).toEqual(['KMS.GenerateDataKey']);
  });
});

describe('otel end to end: metrics and cost', () => {
  it('counts what local-kms counted, and prices it as computed by hand', async () => {
    const clock = fakeClock();
    kms = await startTestKms({ clock, quotas: { overrides: { symmetric: 6 } } });
    const arn = await newKey(kms);
    kms.server.resetStats();
    clock.advance(1000);
    const client = steadyClient(kms, { sleep: windowSleep(clock) });
    const h = instrument();

    // 7 GenerateDataKey in one window of 6: the 7th is throttled once, then succeeds in the next window.
    for (let i = 0; i < 7; i++) {
      await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
    }
    // 2 failures (unknown key): accepted by KMS, answered with NotFoundException, billed.
    for (let i = 0; i < 2; i++) {
      await client
        .send(new GenerateDataKeyCommand({ KeyId: 'alias/missing', KeySpec: 'AES_256' }))
        .catch(() => undefined);
    }

    const stats = kms.server.stats();
    expect(stats.total).toMatchObject({ accepted: 9, throttled: 1, errors: 2 });
    const m = await collect();
    const sent = stats.total.accepted + stats.total.throttled + stats.total.faulted;
    expect(sum(m.get('steadykms.kms.requests'))).toBe(sent);
    expect(sum(m.get('steadykms.kms.requests'), { 'rpc.method': 'GenerateDataKey' })).toBe(
      stats.byOperation['GenerateDataKey']!.accepted +
        stats.byOperation['GenerateDataKey']!.throttled,
    );
    expect(sum(m.get('steadykms.kms.requests'), { 'steadykms.quota.pool': 'symmetric' })).toBe(
      stats.byPool['symmetric']!.accepted + stats.byPool['symmetric']!.throttled,
    );
    expect(sum(m.get('steadykms.kms.requests'), { 'steadykms.kms.key': arn })).toBe(8);
    expect(sum(m.get('steadykms.kms.requests'), { 'error.type': 'NotFoundException' })).toBe(2);
    expect(sum(m.get('steadykms.kms.throttles'))).toBe(stats.total.throttled);
    expect(sum(m.get('steadykms.kms.retries'))).toBe(1);
    expect(histogram(m.get('rpc.client.call.duration')).count).toBe(9);

    // By hand: 9 billable standard requests (the throttled attempt is not billed) at $0.03 / 10,000.
    const expected = (9 * 0.03) / 10_000;
    expect(sum(m.get('steadykms.kms.cost'))).toBeCloseTo(expected, 12);
    const usage = h.usage();
    expect(usage.requests.standard).toBe(9);
    expect(usage.throttles).toBe(1);
    // "At this rate, this month costs": 9 requests in `observedSeconds`, scaled to 730 hours, less the
    // 20,000 free ones, plus one key-month.
    const monthly = (9 * 730 * 3600) / usage.observedSeconds;
    const projection = estimateCost({ ...usage, keys: 1 });
    expect(projection.monthlyRequests.standard).toBeCloseTo(monthly, 6);
    expect(projection.totalUsd).toBeCloseTo((Math.max(0, monthly - 20_000) * 0.03) / 10_000 + 1, 9);
  });

  it('reports limiter waits, and the pool rate gauge once throttles lower the rate', async () => {
    const clock = fakeClock();
    kms = await startTestKms({ clock, quotas: { overrides: { symmetric: 1 } } });
    const arn = await newKey(kms);
    clock.advance(1000);
    // The plugin paces to 1,000 rps, far above the 1 rps local-kms allows. Each throttle holds the pool
    // to the next second (a limiter wait for the retry); a throttle in the next window too confirms the
    // quota is lower, which lowers the pool's rate and publishes it on `steadykms:limiter:rate`.
    const client = steadyClient(kms, {
      quotas: { overrides: { symmetric: 1000 } },
      sleep: windowSleep(clock),
      accountId: '111122223333',
    });
    instrument();
    for (let i = 0; i < 3; i++) {
      await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
    }
    expect(kms.server.stats().byOperation['GenerateDataKey']).toMatchObject({
      accepted: 3,
      throttled: 2,
    });
    const m = await collect();
    const rates = (m.get('steadykms.limiter.rate')?.dataPoints ?? []) as DataPoint<number>[];
    const symmetric = rates.find(
      (p) =>
        p.attributes['steadykms.quota.pool'] === 'symmetric' &&
        p.attributes['cloud.region'] === 'us-east-1',
    );
    expect(symmetric).toBeDefined();
    expect(symmetric!.value).toBeLessThan(1000);
    expect(symmetric!.attributes['cloud.account.id']).toBe('111122223333');
    expect(sum(m.get('steadykms.limiter.ceiling'), { 'steadykms.quota.pool': 'symmetric' })).toBe(
      1000,
    );
    // Every wait the limiter reported is in the histogram and on the spans (in milliseconds there).
    const waitedMs = kmsSpans().reduce(
      (acc, s) => acc + Number(s.attributes['steadykms.limiter.wait_ms']),
      0,
    );
    expect(waitedMs).toBeGreaterThan(0);
    expect(histogram(m.get('steadykms.limiter.wait')).count).toBeGreaterThan(0);
    expect(histogram(m.get('steadykms.limiter.wait')).sum).toBeCloseTo(waitedMs / 1000, 6);
    const waitEvents = kmsSpans().flatMap((s) =>
      s.events.filter((e) => e.name === 'steadykms.limiter.wait'),
    );
    expect(waitEvents.length).toBeGreaterThan(0);
  });
});

describe('otel end to end: audit', () => {
  it('exports no plaintext, data key, ciphertext or non-allow-listed context value anywhere', async () => {
    kms = await startTestKms({ quotas: false });
    const arn = await newKey(kms);
    const client = steadyClient(kms);
    instrument({ allowListedContextKeys: ['purpose'] });
    const ec = { purpose: 'audit-test', tenant: 'tenant-secret-value', user: 'alice@example.com' };
    const plaintext = Buffer.from('TOP-SECRET-PLAINTEXT-0123456789');

    const enc = await client.send(
      new EncryptCommand({ KeyId: arn, Plaintext: plaintext, EncryptionContext: ec }),
    );
    const dec = await client.send(
      new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec }),
    );
    expect(Buffer.from(dec.Plaintext!).equals(plaintext)).toBe(true);
    const dk = await client.send(
      new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', EncryptionContext: ec }),
    );
    await client
      .send(new DecryptCommand({ CiphertextBlob: Buffer.from('garbage'), EncryptionContext: ec }))
      .catch(() => undefined);

    const secrets: string[] = ['tenant-secret-value', 'alice@example.com'];
    for (const bytes of [plaintext, enc.CiphertextBlob!, dk.Plaintext!, dk.CiphertextBlob!]) {
      const b = Buffer.from(bytes);
      secrets.push(b.toString('base64'), b.toString('hex'), b.toString('base64url'));
      if (b === plaintext) secrets.push(b.toString('utf8'));
    }
    const spans = kmsSpans();
    expect(spans).toHaveLength(4);
    const m = await collect();
    const exported = JSON.stringify({
      spans: spans.map((s) => ({
        name: s.name,
        attributes: s.attributes,
        events: s.events,
        status: s.status,
        links: s.links,
      })),
      metrics: [...m.values()].map((x) => x.dataPoints.map((p) => p.attributes)),
    });
    for (const secret of secrets) expect(exported).not.toContain(secret);
    // What is there: keys, the allow-listed value, and hashes.
    expect(exported).toContain('audit-test');
    expect(spans[0]!.attributes['steadykms.encryption_context.keys']).toEqual([
      'purpose',
      'tenant',
      'user',
    ]);
  });
});
