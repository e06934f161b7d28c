// @steadykms/otel beside @opentelemetry/instrumentation-aws-sdk, both on, against local-kms over HTTP.
//
// What actually happens (and what this test pins down): the aws-sdk instrumentation wraps the client's
// `middlewareStack.resolve`, so its span starts before any middleware runs and the whole middleware
// chain runs inside its context. Our span starts in the steadykms plugin's initialize-step middleware,
// later, so ours is the CHILD of the SDK's span, not its parent. Both are named `KMS.<Operation>`; both
// cover the retry loop (the SDK's retry middleware is replaced by ours, inside both spans), so a
// throttle-then-success is still one span from each. The aws-sdk instrumentation records no KMS
// metrics, so nothing is counted twice.
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { SteadyKmsInstrumentation } from '@steadykms/otel';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';

const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});
// DELTA: each collection holds only what happened since the last one, so tests need no fresh provider
// (the instrumentations are registered once, before the SDK is loaded).
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

// The aws-sdk instrumentation patches @smithy/core when it is required, so it is registered before the
// AWS SDK (and anything importing it) is loaded; hence the dynamic imports below.
const unregister = registerInstrumentations({
  instrumentations: [new AwsInstrumentation(), new SteadyKmsInstrumentation()],
  tracerProvider,
  meterProvider,
});
const { CreateKeyCommand, GenerateDataKeyCommand } = await import('@aws-sdk/client-kms');
const { withSteadyKms } = await import('@steadykms/core');
const { fakeClock, startTestKms } = await import('./support/index.js');

afterAll(async () => {
  unregister();
  await meterProvider.shutdown();
  context.disable();
});
beforeEach(async () => {
  spanExporter.reset();
  await reader.forceFlush();
  metricExporter.reset();
});

describe('beside @opentelemetry/instrumentation-aws-sdk', () => {
  it('puts our span under the SDK span, one each per logical call, and counts nothing twice', async () => {
    const clock = fakeClock();
    const kms = await startTestKms({ clock, quotas: { overrides: { symmetric: 1 } } });
    try {
      const arn = (await kms.client().send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
      kms.server.resetStats();
      clock.advance(1000);
      spanExporter.reset();
      const client = withSteadyKms(kms.client({ maxAttempts: 3 }), {
        quotas: false,
        // Retries move local-kms's clock to the next quota window instead of sleeping.
        sleep: () => {
          clock.advance(1000);
          return Promise.resolve();
        },
      });
      await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
      // Throttled once, then succeeds after the retry.
      await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));

      const spans = spanExporter.getFinishedSpans();
      const sdk = spans.filter(
        (s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-aws-sdk',
      );
      const ours = spans.filter((s) => s.instrumentationScope.name === '@steadykms/otel');
      expect(sdk.map((s) => s.name)).toEqual(['KMS.GenerateDataKey', 'KMS.GenerateDataKey']);
      expect(ours.map((s) => s.name)).toEqual(['KMS.GenerateDataKey', 'KMS.GenerateDataKey']);
      for (let i = 0; i < 2; i++) {
        expect(ours[i]!.parentSpanContext?.spanId).toBe(sdk[i]!.spanContext().spanId);
        expect(ours[i]!.spanContext().traceId).toBe(sdk[i]!.spanContext().traceId);
        // The SDK span covers ours, retries included.
        expect(ours[i]!.attributes['aws.request_id']).toBe(sdk[i]!.attributes['aws.request.id']);
      }
      expect(ours[1]!.attributes).toMatchObject({
        'steadykms.attempts': 2,
        'steadykms.throttles': 1,
      });

      await reader.forceFlush();
      const scopes = metricExporter.getMetrics().flatMap((r) => r.scopeMetrics);
      const withData = scopes.filter((s) => s.metrics.some((m) => m.dataPoints.length > 0));
      expect(withData.map((s) => s.scope.name)).toEqual(['@steadykms/otel']);
      const requests = withData[0]!.metrics.find(
        (m) => m.descriptor.name === 'steadykms.kms.requests',
      );
      const total = (requests?.dataPoints as DataPoint<number>[]).reduce((a, p) => a + p.value, 0);
      const stats = kms.server.stats().total;
      expect(total).toBe(stats.accepted + stats.throttled);
      expect(total).toBe(3);
    } finally {
      await kms.close();
    }
  });
});
