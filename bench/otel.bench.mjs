// Overhead of @steadykms/otel on the no-quota case: GenerateDataKey through a KMSClient with the steadykms
// plugin at concurrency 32, local-kms with quotas off, with spans and metrics off (nobody subscribes to
// core's channels, so core builds no messages) and on (SteadyKmsInstrumentation with a real tracer provider,
// BatchSpanProcessor, and a real meter provider read every second; both exporters discard). The bare SDK
// runs alongside for scale.
//
// Bar (issue 6): throughput with spans and metrics on >= 90% of throughput with them off, medians of runs.
// The server runs in its own child process (the built bin) so its CPU is not the client's.
// Run: pnpm build && pnpm bench otel
// (env: BENCH_RUNS=3 BENCH_SLICES=6 BENCH_SLICE_SECONDS=1 BENCH_CONCURRENCY=32)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { withSteadyKms } from '@steadykms/core';
import { SteadyKmsInstrumentation } from '@steadykms/otel';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'packages', 'local-kms', 'dist', 'bin.js');
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 1);
const SLICES = Number(process.env.BENCH_SLICES ?? 6);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WARMUP_SECONDS = 1;

if (!existsSync(bin)) {
  console.error(`bench: ${bin} is missing; run \`pnpm build\` first`);
  process.exit(1);
}

function startServer() {
  const child = spawn(process.execPath, [bin, '--quotas', 'off'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`local-kms exited with ${code}`)));
  });
}

// Exporters that count and drop: the cost measured is recording, not shipping.
let spansExported = 0;
const spanExporter = {
  export(spans, done) {
    spansExported += spans.length;
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};
let metricExports = 0;
const metricExporter = {
  export(_metrics, done) {
    metricExports++;
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};

async function measure(client, keyId, seconds) {
  const deadline = performance.now() + seconds * 1000;
  let count = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
      count++;
    }
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const cpu = process.cpuUsage(cpu0);
  const rate = count / ((performance.now() - t0) / 1000);
  // Client CPU per call is less at the mercy of other processes on a shared machine than throughput.
  return { rate, count, cpuMicrosPerCall: (cpu.user + cpu.system) / count };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const { child, url } = await startServer();
const config = {
  endpoint: url,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
  maxAttempts: 1,
};
const bare = new KMSClient(config);
const steady = withSteadyKms(new KMSClient(config), { quotas: false });
const keyId = (await bare.send(new CreateKeyCommand({}))).KeyMetadata.KeyId;

const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(spanExporter, { maxQueueSize: 8192 })],
});
const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 1000 }),
  ],
});

const modes = {
  'bare SDK': { client: bare, otel: false },
  'plugin, otel off': { client: steady, otel: false },
  'plugin, otel on (spans + metrics)': { client: steady, otel: true },
};
const results = Object.fromEntries(Object.keys(modes).map((k) => [k, []]));
const cpuPerCall = Object.fromEntries(Object.keys(modes).map((k) => [k, []]));

// One instrumentation, enabled for the "on" slices and disabled otherwise: disabled, nobody subscribes to
// core's channels and core builds no messages.
const instrumentation = new SteadyKmsInstrumentation({ enabled: false });
instrumentation.setTracerProvider(tracerProvider);
instrumentation.setMeterProvider(meterProvider);
const withOtel = async (on, fn) => {
  if (on) instrumentation.enable();
  try {
    return await fn();
  } finally {
    instrumentation.disable();
  }
};

// Warm up every path (JIT, keep-alive sockets) before measuring.
for (const mode of Object.values(modes)) {
  await withOtel(mode.otel, () => measure(mode.client, keyId, WARMUP_SECONDS));
}
await tracerProvider.forceFlush();
spansExported = 0;
let opsObserved = 0;

const names = Object.keys(modes);
for (let run = 0; run < RUNS; run++) {
  // One run is SLICES short slices per mode, interleaved and in alternating order, so that the load other
  // processes put on a shared machine falls on every mode alike instead of on whichever ran during a burst.
  const totals = Object.fromEntries(names.map((n) => [n, { count: 0, seconds: 0, cpu: 0 }]));
  for (let slice = 0; slice < SLICES; slice++) {
    const order = (run * SLICES + slice) % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const mode = modes[name];
      const { rate, count, cpuMicrosPerCall } = await withOtel(mode.otel, () =>
        measure(mode.client, keyId, SLICE_SECONDS),
      );
      totals[name].count += count;
      totals[name].seconds += count / rate;
      totals[name].cpu += cpuMicrosPerCall * count;
      if (mode.otel) opsObserved += count;
    }
  }
  for (const name of names) {
    const t = totals[name];
    results[name].push(t.count / t.seconds);
    cpuPerCall[name].push(t.cpu / t.count);
  }
}
await tracerProvider.forceFlush();

const off = median(results['plugin, otel off']);
const on = median(results['plugin, otel on (spans + metrics)']);
console.log(
  `GenerateDataKey, concurrency ${CONCURRENCY}, local-kms quotas off (child process), ` +
    `${RUNS} runs, each ${SLICES} interleaved slices of ${SLICE_SECONDS} s per mode; ` +
    `${cpus().length} CPUs, Node ${process.version}\n`,
);
console.log('| mode | runs (ops/s) | median (ops/s) | client CPU per call, median (µs) |');
console.log('| --- | --- | --- | --- |');
for (const name of names) {
  const rs = results[name].map((r) => r.toFixed(0)).join(', ');
  console.log(
    `| ${name} | ${rs} | ${median(results[name]).toFixed(0)} | ${median(cpuPerCall[name]).toFixed(0)} |`,
  );
}
const ratio = on / off;
// Paired per run: each run's slices of both modes ran interleaved, under the same machine load.
const paired = results['plugin, otel on (spans + metrics)'].map(
  (r, i) => r / results['plugin, otel off'][i],
);
console.log(`\notel on / otel off = ${(ratio * 100).toFixed(1)}% (bar: >= 90%)`);
console.log(
  `per run: ${paired.map((r) => `${(r * 100).toFixed(1)}%`).join(', ')}; ` +
    `median ${(median(paired) * 100).toFixed(1)}%`,
);
const cpuOff = median(cpuPerCall['plugin, otel off']);
const cpuOn = median(cpuPerCall['plugin, otel on (spans + metrics)']);
console.log(
  `otel's client CPU per call: ${(cpuOn - cpuOff).toFixed(0)} µs (${cpuOff.toFixed(0)} -> ${cpuOn.toFixed(0)})`,
);
console.log(
  `spans exported: ${spansExported} of ${opsObserved} observed calls, metric exports: ${metricExports}`,
);

bare.destroy();
steady.destroy();
await meterProvider.shutdown();
await tracerProvider.shutdown();
child.kill('SIGTERM');
process.exit(ratio >= 0.9 ? 0 : 1);
