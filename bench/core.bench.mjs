// `pnpm bench core`: the steadykms SDK plugin against the bare SDK (standard and adaptive retry modes), side
// by side on the same local-kms, which runs in a child process so the server does not share the clients'
// event loop. Built packages only: run `pnpm build` first.
//
// Cases (issue 3):
//   1. quota 200 rps on the symmetric pool, 64 workers looping GenerateDataKey for CORE_BENCH_SECONDS
//      (default 20), three runs each of: bare SDK standard, bare SDK adaptive, steadykms.
//   2. the client is configured for 200 rps but the server enforces 120 (another consumer): goodput and
//      throttles in the first 5 s and after.
//   3. no quota, 32 workers: steadykms throughput against the bare SDK's (the plugin's overhead).
//   limiter: the Bottleneck-or-plain-class measurement behind the README's decision.
//
// Environment: CORE_BENCH_SECONDS (case 1 duration), CORE_BENCH_RUNS (default 3),
// CORE_BENCH_CASES (comma list of 1,2,3,limiter; default all).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

const SELF = fileURLToPath(import.meta.url);
const CREDENTIALS = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret' };
const REGION = 'us-east-1';
// Extra plugin options for trials, e.g. CORE_BENCH_TUNING='{"limiter":{"maxLagMs":25}}'.
const TUNING = JSON.parse(process.env.CORE_BENCH_TUNING ?? '{}');
const KINDS = (process.env.CORE_BENCH_KINDS ?? 'standard,adaptive,steadykms').split(',');

function startServer(options) {
  const child = fork(SELF, ['--server', JSON.stringify(options)], { stdio: 'inherit' });
  const ask = (m, key) =>
    new Promise((resolve) => {
      const on = (r) => {
        if (key in r) {
          child.off('message', on);
          resolve(r[key]);
        }
      };
      child.on('message', on);
      child.send(m);
    });
  return new Promise((resolve) => {
    child.once('message', (m) =>
      resolve({
        url: m.url,
        stats: () => ask('stats', 'stats'),
        reset: () => ask('reset', 'reset'),
        close: () => new Promise((r) => (child.once('exit', r), child.send('close'))),
      }),
    );
  });
}

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/** Runs `workers` loops of GenerateDataKey for `seconds`; per-second goodput in `buckets`. */
async function drive(client, keyId, workers, seconds, GenerateDataKeyCommand) {
  const latencies = [];
  const okAt = [];
  const errors = {};
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
        const now = performance.now();
        latencies.push(now - s);
        okAt.push(now - t0);
      } catch (e) {
        latencies.push(performance.now() - s);
        errors[e.name] = (errors[e.name] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { latencies, okAt, errors, elapsed };
}

async function makeClient(kind, url, configuredQuota, sdk, core) {
  const base = { endpoint: url, region: REGION, credentials: CREDENTIALS };
  if (kind === 'standard') return new sdk.KMSClient(base);
  if (kind === 'adaptive') return new sdk.KMSClient({ ...base, retryMode: 'adaptive' });
  const quotas =
    configuredQuota === undefined ? undefined : { overrides: { symmetric: configuredQuota } };
  return core.withSteadyKms(new sdk.KMSClient(base), quotas === undefined ? {} : { quotas });
}

async function runCase({ kind, serverQuota, configuredQuota, workers, seconds, sdk, core }) {
  const server = await startServer({
    quotas: serverQuota === undefined ? false : { overrides: { symmetric: serverQuota } },
  });
  const setup = new sdk.KMSClient({
    endpoint: server.url,
    region: REGION,
    credentials: CREDENTIALS,
  });
  const key = await setup.send(new sdk.CreateKeyCommand({}));
  setup.destroy();
  const keyId = key.KeyMetadata.Arn;
  // A fresh registry per run: the process-wide one would carry pacing state from the previous run.
  const clientCore =
    kind === 'steadykms'
      ? {
          withSteadyKms: (c, o) =>
            core.withSteadyKms(c, { ...o, ...TUNING, registry: new core.LimiterRegistry() }),
        }
      : core;
  const client = await makeClient(kind, server.url, configuredQuota, sdk, clientCore);
  await server.reset();
  const r = await drive(client, keyId, workers, seconds, sdk.GenerateDataKeyCommand);
  const stats = await server.stats();
  client.destroy();
  await server.close();
  const sent = stats.total.accepted + stats.total.throttled;
  const ok = r.okAt.length;
  return {
    kind,
    ok,
    goodputRps: ok / r.elapsed,
    throttlePct: sent === 0 ? 0 : (100 * stats.total.throttled) / sent,
    errors: Object.values(r.errors).reduce((a, b) => a + b, 0),
    errorNames: r.errors,
    p50: pct(r.latencies, 50) / 1000,
    p99: pct(r.latencies, 99) / 1000,
    max: r.latencies.at(-1) / 1000,
    okAt: r.okAt,
    elapsed: r.elapsed,
    stats,
  };
}

function table(rows, quota) {
  const lines = [
    '| client | run | goodput rps | goodput % of quota | server throttles % | errors surfaced | p50 s | p99 s | max s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.kind} | ${r.run} | ${fmt(r.goodputRps)} | ${quota ? fmt((100 * r.goodputRps) / quota) : '-'} | ${fmt(r.throttlePct, 2)} | ${r.errors}${r.errors ? ' ' + JSON.stringify(r.errorNames) : ''} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.max, 3)} |`,
    );
  }
  return lines.join('\n');
}

function medians(rows, quota) {
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const lines = [
    '| client (median of runs) | goodput % of quota | server throttles % | errors surfaced | p50 s | p99 s | max s |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const k of kinds) {
    const rs = rows.filter((r) => r.kind === k);
    lines.push(
      `| ${k} | ${fmt((100 * median(rs.map((r) => r.goodputRps))) / quota)} | ${fmt(median(rs.map((r) => r.throttlePct)), 2)} | ${median(rs.map((r) => r.errors))} | ${fmt(median(rs.map((r) => r.p50)), 3)} | ${fmt(median(rs.map((r) => r.p99)), 3)} | ${fmt(median(rs.map((r) => r.max)), 3)} |`,
    );
  }
  return lines.join('\n');
}

async function case1(sdk, core, runs, seconds) {
  console.log(`### Case 1: quota 200 rps, 64 workers, ${seconds} s, ${runs} runs each\n`);
  const rows = [];
  for (let run = 1; run <= runs; run++) {
    for (const kind of KINDS) {
      const r = await runCase({
        kind,
        serverQuota: 200,
        configuredQuota: 200,
        workers: 64,
        seconds,
        sdk,
        core,
      });
      rows.push({ ...r, run });
      console.error(
        `  case1 ${kind} run ${run}: ${fmt(r.goodputRps)} rps, ${fmt(r.throttlePct, 2)}% throttled, ${r.errors} errors, p99 ${fmt(r.p99, 3)} s`,
      );
    }
  }
  console.log(table(rows, 200) + '\n');
  console.log(medians(rows, 200) + '\n');
}

async function case2(sdk, core, runs) {
  const seconds = Number(process.env.CORE_BENCH_CASE2_SECONDS ?? 15);
  console.log(`### Case 2: configured 200 rps, server enforces 120, 64 workers, ${seconds} s\n`);
  const lines = [
    '| client | run | goodput % of 120, first 5 s | goodput % of 120, after 5 s | server throttles %, first 5 s | server throttles %, whole run | errors surfaced | p99 s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (let run = 1; run <= runs; run++) {
    for (const kind of ['adaptive', 'steadykms']) {
      const server = await startServer({ quotas: { overrides: { symmetric: 120 } } });
      const setup = new sdk.KMSClient({
        endpoint: server.url,
        region: REGION,
        credentials: CREDENTIALS,
      });
      const keyId = (await setup.send(new sdk.CreateKeyCommand({}))).KeyMetadata.Arn;
      setup.destroy();
      const client =
        kind === 'steadykms'
          ? core.withSteadyKms(
              new sdk.KMSClient({ endpoint: server.url, region: REGION, credentials: CREDENTIALS }),
              { quotas: { overrides: { symmetric: 200 } }, registry: new core.LimiterRegistry() },
            )
          : new sdk.KMSClient({
              endpoint: server.url,
              region: REGION,
              credentials: CREDENTIALS,
              retryMode: 'adaptive',
            });
      await server.reset();
      // Sample the server's counters at 5 s.
      let at5;
      const sampler = new Promise((resolve) =>
        setTimeout(async () => {
          at5 = await server.stats();
          resolve();
        }, 5000),
      );
      const r = await drive(client, keyId, 64, seconds, sdk.GenerateDataKeyCommand);
      await sampler;
      const stats = await server.stats();
      client.destroy();
      await server.close();
      const first = r.okAt.filter((t) => t < 5000).length;
      const later = r.okAt.length - first;
      const t5 = at5.total.throttled / Math.max(1, at5.total.accepted + at5.total.throttled);
      const tAll =
        stats.total.throttled / Math.max(1, stats.total.accepted + stats.total.throttled);
      const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
      lines.push(
        `| ${kind} | ${run} | ${fmt((100 * first) / 5 / 120)} | ${fmt((100 * later) / (r.elapsed - 5) / 120)} | ${fmt(100 * t5, 2)} | ${fmt(100 * tAll, 2)} | ${errors} | ${fmt(pct(r.latencies, 99) / 1000, 3)} |`,
      );
      console.error(`  case2 ${kind} run ${run}: ${lines.at(-1)}`);
    }
  }
  console.log(lines.join('\n') + '\n');
}

async function case3(sdk, core, runs) {
  // Interleaved slices on one server: the machine's load drifts by more than the plugin costs, so
  // back-to-back runs of a few seconds each, alternating which goes first, compare like with like.
  const slices = Math.max(2, runs) * 2;
  const seconds = Number(process.env.CORE_BENCH_CASE3_SECONDS ?? 4);
  console.log(
    `### Case 3: no quota, 32 workers, ${slices} interleaved slices of ${seconds} s each (plugin overhead)\n`,
  );
  const server = await startServer({ quotas: false });
  const base = { endpoint: server.url, region: REGION, credentials: CREDENTIALS };
  const setup = new sdk.KMSClient(base);
  const keyId = (await setup.send(new sdk.CreateKeyCommand({}))).KeyMetadata.Arn;
  setup.destroy();
  const clients = {
    standard: new sdk.KMSClient(base),
    steadykms: core.withSteadyKms(new sdk.KMSClient(base), {
      registry: new core.LimiterRegistry(),
    }),
  };
  // Warm both up (connections, JIT).
  for (const c of Object.values(clients)) await drive(c, keyId, 32, 1, sdk.GenerateDataKeyCommand);
  const totals = { standard: { ok: 0, s: 0, lat: [] }, steadykms: { ok: 0, s: 0, lat: [] } };
  const ratios = [];
  const lines = [
    '| slice | client | throughput rps | p50 s | p99 s |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (let i = 0; i < slices; i++) {
    const order = i % 2 === 0 ? ['standard', 'steadykms'] : ['steadykms', 'standard'];
    const pair = {};
    for (const kind of order) {
      const r = await drive(clients[kind], keyId, 32, seconds, sdk.GenerateDataKeyCommand);
      pair[kind] = r.okAt.length / r.elapsed;
      totals[kind].ok += r.okAt.length;
      totals[kind].s += r.elapsed;
      totals[kind].lat.push(...r.latencies);
      lines.push(
        `| ${i + 1} | ${kind} | ${fmt(r.okAt.length / r.elapsed)} | ${fmt(pct(r.latencies, 50) / 1000, 4)} | ${fmt(pct(r.latencies, 99) / 1000, 4)} |`,
      );
      console.error(`  case3 slice ${i + 1} ${kind}: ${fmt(r.okAt.length / r.elapsed)} rps`);
    }
    ratios.push(pair.steadykms / pair.standard);
  }
  for (const c of Object.values(clients)) c.destroy();
  await server.close();
  console.log(lines.join('\n') + '\n');
  const rate = (k) => totals[k].ok / totals[k].s;
  for (const k of ['standard', 'steadykms']) {
    const lat = totals[k].lat.sort((a, b) => a - b);
    console.log(
      `${k}: ${fmt(rate(k))} rps overall, p50 ${fmt(pct(lat, 50) / 1000, 4)} s, p99 ${fmt(pct(lat, 99) / 1000, 4)} s`,
    );
  }
  console.log(
    `\nsteadykms / bare SDK throughput: ${fmt((100 * rate('steadykms')) / rate('standard'))}% overall, ` +
      `median of adjacent-slice ratios ${fmt(100 * median(ratios))}%\n`,
  );
}

/** Bottleneck against the plain TokenBucket: pacing accuracy at 200 rps, and cost per acquisition. */
async function limiterChoice(core) {
  const { default: Bottleneck } = await import('bottleneck');
  console.log('### Limiter choice: Bottleneck 2.19.5 vs the plain TokenBucket\n');
  const windows = (times) => {
    // Largest count in any one-second window aligned to the clock (as KMS counts) and in any sliding one.
    const byEpoch = new Map();
    for (const t of times)
      byEpoch.set(Math.floor(t / 1000), (byEpoch.get(Math.floor(t / 1000)) ?? 0) + 1);
    let sliding = 0;
    for (let lo = 0, hi = 0; hi < times.length; hi++) {
      while (times[hi] - times[lo] >= 1000) lo++;
      sliding = Math.max(sliding, hi - lo + 1);
    }
    return { epochMax: Math.max(...byEpoch.values()), sliding };
  };
  const now = () => performance.timeOrigin + performance.now();
  const pace = async (name, acquire) => {
    const times = [];
    const end = now() + 3000;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (now() < end) {
          await acquire();
          times.push(now());
        }
      }),
    );
    times.sort((a, b) => a - b);
    const inside = times.filter((t) => t < end);
    const w = windows(inside);
    return { name, rate: inside.length / 3, ...w };
  };
  const rows = [];
  const bucket = new core.TokenBucket({
    clock: core.systemClock,
    sleep: core.systemSleep,
    rate: () => 200,
  });
  rows.push(await pace('TokenBucket (GCRA) 200 rps', () => bucket.acquire()));
  const bMin = new Bottleneck({ minTime: 5 });
  rows.push(await pace('Bottleneck minTime 5 ms', () => bMin.schedule(() => Promise.resolve())));
  const bRes = new Bottleneck({
    reservoir: 200,
    reservoirRefreshAmount: 200,
    reservoirRefreshInterval: 1000,
  });
  rows.push(await pace('Bottleneck reservoir 200/s', () => bRes.schedule(() => Promise.resolve())));
  await bMin.stop({ dropWaitingJobs: true });
  await bRes.stop({ dropWaitingJobs: true });
  console.log(
    '| limiter | achieved rps | max in a clock-aligned second | max in any sliding second |',
  );
  console.log('| --- | --- | --- | --- |');
  for (const r of rows)
    console.log(`| ${r.name} | ${fmt(r.rate)} | ${r.epochMax} | ${r.sliding} |`);
  // Cost per acquisition when the limit is far away (the common case at 10,000+ rps quotas).
  const N = 100_000;
  const fast = new core.TokenBucket({
    clock: core.systemClock,
    sleep: core.systemSleep,
    rate: () => 1e9,
  });
  let t = performance.now();
  for (let i = 0; i < N; i++) await fast.acquire();
  const ours = ((performance.now() - t) * 1000) / N;
  const bFast = new Bottleneck({ minTime: 0 });
  t = performance.now();
  for (let i = 0; i < N / 10; i++) await bFast.schedule(() => Promise.resolve());
  const theirs = ((performance.now() - t) * 1000) / (N / 10);
  await bFast.stop();
  console.log(
    `\ncost per acquisition, limit far away: TokenBucket ${fmt(ours, 2)} µs, Bottleneck ${fmt(theirs, 2)} µs\n`,
  );
}

async function main() {
  const sdk = await import('@aws-sdk/client-kms');
  const core = await import('@steadykms/core');
  const runs = Number(process.env.CORE_BENCH_RUNS ?? 3);
  const seconds = Number(process.env.CORE_BENCH_SECONDS ?? 20);
  const cases = (process.env.CORE_BENCH_CASES ?? '1,2,3,limiter').split(',');
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, ${new Date().toISOString()}\n`,
  );
  if (cases.includes('limiter')) await limiterChoice(core);
  if (cases.includes('1')) await case1(sdk, core, runs, seconds);
  if (cases.includes('2')) await case2(sdk, core, runs);
  if (cases.includes('3')) await case3(sdk, core, runs);
  console.log(
    `load after: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

// ---- child: local-kms ------------------------------------------------------------------------------
if (process.argv[2] === '--server') {
  const { startLocalKms } = await import('@steadykms/local-kms');
  const kms = await startLocalKms(JSON.parse(process.argv[3]));
  process.on('message', (m) => {
    if (m === 'stats') process.send({ stats: kms.stats() });
    else if (m === 'reset') {
      kms.resetStats();
      process.send({ reset: true });
    } else if (m === 'close') void kms.close().then(() => process.exit(0));
  });
  process.send({ url: kms.url });
} else {
  await main();
}
