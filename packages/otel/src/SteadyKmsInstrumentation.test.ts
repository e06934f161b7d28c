import Module from 'node:module';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { channels, type OperationStartMessage } from '@steadykms/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SteadyKmsInstrumentation } from './SteadyKmsInstrumentation.js';

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
let unregister: (() => void) | undefined;
let id = 9_000;

beforeEach(() => exporter.reset());
afterEach(() => {
  unregister?.();
  unregister = undefined;
});

function roundTrip(ec?: Record<string, string>): void {
  const start: OperationStartMessage = {
    operationId: id++,
    operation: 'Encrypt',
    region: 'us-west-2',
    accountId: undefined,
    pool: 'symmetric',
    billing: 'standard',
    keyId: 'alias/app',
    encryptionContext: ec,
    startTime: Date.now(),
  };
  channels.operationStart.publish(start);
  channels.operationEnd.publish({
    ...start,
    keyArn: undefined,
    requestId: undefined,
    attempts: 1,
    throttles: 0,
    waitMs: 0,
    durationMs: 1,
    cache: 'bypass',
    error: undefined,
  });
}

describe('SteadyKmsInstrumentation', () => {
  it('works with registerInstrumentations, and its disable function unsubscribes', () => {
    const instrumentation = new SteadyKmsInstrumentation({ enabled: false });
    expect(channels.operationStart.hasSubscribers).toBe(false);
    unregister = registerInstrumentations({ instrumentations: [instrumentation], tracerProvider });
    expect(channels.operationStart.hasSubscribers).toBe(true);
    roundTrip();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['KMS.Encrypt']);
    unregister();
    unregister = undefined;
    expect(channels.operationStart.hasSubscribers).toBe(false);
    roundTrip();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
  });

  it('patches no module: constructing it leaves require untouched', () => {
    const proto = Module.prototype as unknown as Record<string, unknown>;
    const before = proto['require'];
    const instrumentation = new SteadyKmsInstrumentation();
    expect(proto['require']).toBe(before);
    expect(instrumentation.instrumentationName).toBe('@steadykms/otel');
    instrumentation.disable();
  });

  it('applies a new configuration with setConfig and stays enabled', () => {
    const instrumentation = new SteadyKmsInstrumentation();
    instrumentation.setTracerProvider(tracerProvider);
    instrumentation.setConfig({ allowListedContextKeys: ['app'] });
    expect(instrumentation.getConfig()).toEqual({ enabled: true, allowListedContextKeys: ['app'] });
    roundTrip({ app: 'billing', user: 'u-1' });
    const span = exporter.getFinishedSpans()[0];
    expect(span?.attributes['steadykms.encryption_context.app']).toBe('billing');
    expect(span?.attributes['steadykms.encryption_context.user']).toMatch(/^hmac-sha256:/);
    expect(instrumentation.usage().requests.standard).toBe(1);
    expect(instrumentation.estimateMonthlyCost().prices.asOf).toMatch(/^\d{4}-/);
    instrumentation.disable();
    expect(channels.operationStart.hasSubscribers).toBe(false);
  });
});
