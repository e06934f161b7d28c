// `pnpm bench envelope`: @steadykms/envelope beside @aws-crypto/client-node, same machine, same run.
// Built packages only: run `pnpm build` first.
//
// Cases (issue 5), one core, raw AES keyring, 4 KiB messages, encryption context of one pair:
//   msg/s   0x0478 and 0x0578, encrypt and decrypt, one message at a time (await in a loop). Decrypt cycles
//           through 300 distinct messages (for 0x0578 each has its own signing key, more than steadykms's
//           256 cached verification keys); one more 0x0578 row decrypts 300 messages written through each
//           library's caching materials manager, which share one signing key.
//   stream  256 MiB generated on the fly, 4 KiB frames, 0x0478 and 0x0578: encrypt MB/s (output discarded) and
//           decrypt MB/s (of a 256 MiB message read from a temp file), peak RSS growth. Each stream case runs
//           in its own child process so RSS is its own.
//   batch   10,000 × 4 KiB, 0x0578, AWS KMS keyring through local-kms (a child process), both with a caching
//           materials manager (max age 5 min, 1,000 messages per data key): steadykms encryptMany with
//           an EncryptionWorkerPool of availableParallelism() threads against the ESDK's encrypt with its
//           NodeCachingMaterialsManager, 16 in flight.
// Every figure is the median of ENVELOPE_BENCH_RUNS (default 3) runs.
//
// Environment: ENVELOPE_BENCH_RUNS, ENVELOPE_BENCH_SECONDS (per msg/s run, default 2),
// ENVELOPE_BENCH_MIB (stream size, default 256), ENVELOPE_BENCH_CASES (msg,stream,batch; default all),
// ENVELOPE_BENCH_BATCH (batch size, default 10000).
/* global Buffer, setInterval, clearInterval */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  KmsKeyringNode,
  NodeCachingMaterialsManager,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  buildClient,
  getLocalCryptographicMaterialsCache,
} from '@aws-crypto/client-node';
import { CreateKeyCommand, KMS, KMSClient } from '@aws-sdk/client-kms';
import {
  CachingMaterialsManager,
  EncryptionWorkerPool,
  KmsKeyring,
  RawAesKeyring,
  decrypt,
  decryptStream,
  encrypt,
  encryptMany,
  encryptStream,
} from '@steadykms/envelope';

const SELF = fileURLToPath(import.meta.url);
const RUNS = Number(process.env.ENVELOPE_BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.ENVELOPE_BENCH_SECONDS ?? 2);
const MIB = Number(process.env.ENVELOPE_BENCH_MIB ?? 256);
const CASES = (process.env.ENVELOPE_BENCH_CASES ?? 'msg,stream,batch').split(',');
const BATCH = Number(process.env.ENVELOPE_BENCH_BATCH ?? 10_000);

const WRAPPING_KEY = Buffer.alloc(32, 7);
const CONTEXT = { purpose: 'bench' };
const ESDK_SUITES = {
  0x0478: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
  0x0578: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
};

function libs() {
  const ours = new RawAesKeyring({
    keyNamespace: 'bench',
    keyName: 'aes',
    wrappingKey: WRAPPING_KEY,
  });
  const theirs = new RawAesKeyringNode({
    keyNamespace: 'bench',
    keyName: 'aes',
    unencryptedMasterKey: new Uint8Array(WRAPPING_KEY),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  return {
    keyrings: { steadykms: ours, esdk: theirs },
    steadykms: {
      encrypt: async (pt, suite) =>
        (await encrypt(pt, { keyring: ours, suite, encryptionContext: CONTEXT })).ciphertext,
      decrypt: async (ct) => (await decrypt(ct, { keyring: ours })).plaintext,
      encryptStream: (suite) => encryptStream({ keyring: ours, suite, encryptionContext: CONTEXT }),
      decryptStream: () => decryptStream({ keyring: ours }),
    },
    esdk: {
      encrypt: async (pt, suite) =>
        (
          await esdk.encrypt(theirs, pt, {
            suiteId: ESDK_SUITES[suite],
            encryptionContext: CONTEXT,
          })
        ).result,
      decrypt: async (ct) => (await esdk.decrypt(theirs, ct)).plaintext,
      encryptStream: (suite) =>
        esdk.encryptStream(theirs, { suiteId: ESDK_SUITES[suite], encryptionContext: CONTEXT }),
      decryptStream: () => esdk.decryptStream(theirs),
    },
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function rate(fn) {
  // Warm up, then count completed operations in SECONDS.
  for (let i = 0; i < 50; i++) await fn();
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 10; i++) await fn();
    n += 10;
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Messages a decrypt case cycles through: more than steadykms keeps verification keys for (256). */
const DISTINCT = 300;

/** `count` messages of 4 KiB, each encrypted on its own (so, for 0x0578, each under its own signing key). */
async function messages(lib, suite, count) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(await lib.encrypt(randomBytes(4096), suite));
  return out;
}

/**
 * `count` messages of 4 KiB written through each library's caching materials manager over the same raw
 * AES keyring (1,000 messages per cached data key): signed messages that share one signing key, as a
 * batch job that caches materials writes them.
 */
async function cachedMessages(name, count) {
  const L = libs();
  const out = [];
  if (name === 'steadykms') {
    const materialsManager = new CachingMaterialsManager({
      keyring: L.keyrings.steadykms,
      maxAgeMs: 300_000,
      maxMessagesEncrypted: 1_000,
    });
    for (let i = 0; i < count; i++)
      out.push(
        (
          await encrypt(randomBytes(4096), {
            materialsManager,
            suite: 0x0578,
            encryptionContext: CONTEXT,
          })
        ).ciphertext,
      );
    materialsManager.close();
  } else {
    const cmm = new NodeCachingMaterialsManager({
      backingMaterials: L.keyrings.esdk,
      cache: getLocalCryptographicMaterialsCache(1_000),
      maxAge: 300_000,
      maxMessagesEncrypted: 1_000,
    });
    const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    for (let i = 0; i < count; i++)
      out.push(
        (
          await esdk.encrypt(cmm, randomBytes(4096), {
            suiteId: ESDK_SUITES[0x0578],
            encryptionContext: CONTEXT,
          })
        ).result,
      );
  }
  return out;
}

async function messageCases() {
  const L = libs();
  const pt = randomBytes(4096);
  const rows = [];
  const row = async (label, make, op) => {
    const r = { steadykms: [], esdk: [] };
    const input = {};
    for (const name of ['steadykms', 'esdk']) input[name] = await make(name);
    for (let run = 0; run < RUNS; run++) {
      // Interleave the libraries so load changes hit both alike.
      for (const name of ['steadykms', 'esdk']) {
        const lib = L[name];
        const cts = input[name];
        let i = 0;
        r[name].push(await rate(op ? () => op(lib) : () => lib.decrypt(cts[i++ % cts.length])));
      }
    }
    rows.push([label, median(r.steadykms), median(r.esdk), r]);
  };
  for (const suite of [0x0478, 0x0578]) {
    const hex = `0x0${suite.toString(16)}`;
    await row(
      `${hex} encrypt, 4 KiB, msg/s`,
      async () => [],
      (lib) => lib.encrypt(pt, suite),
    );
    await row(`${hex} decrypt, 4 KiB, ${DISTINCT} distinct messages, msg/s`, (name) =>
      messages(L[name], suite, DISTINCT),
    );
  }
  await row(`0x0578 decrypt, 4 KiB, ${DISTINCT} messages under cached materials, msg/s`, (name) =>
    cachedMessages(name, DISTINCT),
  );
  return rows;
}

// ---- stream cases, each in a child process ----
function child(args) {
  return new Promise((resolve, reject) => {
    const c = fork(SELF, ['--child', JSON.stringify(args)], {
      execArgv: ['--expose-gc'],
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    });
    c.once('message', resolve);
    c.once('exit', (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
  });
}

function source(bytes) {
  const block = randomBytes(64 * 1024);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      sent += block.length;
      this.push(block);
    },
  });
}

const sink = () => new Writable({ highWaterMark: 1 << 16, write: (_c, _e, cb) => cb() });

async function runChild({ lib, op, suite, file }) {
  const L = libs()[lib];
  const bytes = MIB * 1024 * 1024;
  globalThis.gc?.();
  const rss0 = process.memoryUsage.rss();
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss() - rss0)), 5);
  const t0 = performance.now();
  if (op === 'prepare') {
    await pipeline(source(bytes), L.encryptStream(suite), createWriteStream(file));
  } else if (op === 'encrypt') {
    await pipeline(source(bytes), L.encryptStream(suite), sink());
  } else {
    await pipeline(createReadStream(file, { highWaterMark: 1 << 16 }), L.decryptStream(), sink());
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage.rss() - rss0);
  process.send({ mbps: bytes / 1e6 / seconds, peakMiB: peak / 1048576 });
}

async function streamCases() {
  const rows = [];
  for (const suite of [0x0478, 0x0578]) {
    const hex = `0x0${suite.toString(16)}`;
    const files = {};
    for (const lib of ['steadykms', 'esdk']) {
      files[lib] = join(tmpdir(), `envelope-bench-${process.pid}-${lib}-${hex}.bin`);
      await child({ lib, op: 'prepare', suite, file: files[lib] });
    }
    try {
      for (const op of ['encrypt', 'decrypt']) {
        const r = { steadykms: [], esdk: [] };
        for (let run = 0; run < RUNS; run++) {
          for (const lib of ['steadykms', 'esdk'])
            r[lib].push(await child({ lib, op, suite, file: files[lib] }));
        }
        const mbps = { steadykms: r.steadykms.map((x) => x.mbps), esdk: r.esdk.map((x) => x.mbps) };
        const peak = {
          steadykms: r.steadykms.map((x) => x.peakMiB),
          esdk: r.esdk.map((x) => x.peakMiB),
        };
        rows.push([
          `${MIB} MiB stream ${hex} ${op}, MB/s`,
          median(mbps.steadykms),
          median(mbps.esdk),
          mbps,
        ]);
        rows.push([
          `${MIB} MiB stream ${hex} ${op}, peak RSS growth MiB`,
          median(peak.steadykms),
          median(peak.esdk),
          peak,
        ]);
      }
    } finally {
      for (const f of Object.values(files)) rmSync(f, { force: true });
    }
  }
  return rows;
}

// ---- batch case: local-kms in a child process ----
async function startKms() {
  const bin = fileURLToPath(new URL('../packages/local-kms/dist/bin.js', import.meta.url));
  const child = spawn(process.execPath, [bin, '--quotas', 'off'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      const m = /listening on (\S+)/.exec(text);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`local-kms exited with ${code}`)));
  });
  return { url, close: () => child.kill('SIGTERM') };
}

const kmsConfig = (url) => ({
  endpoint: url,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret' },
});

async function batchCases() {
  const kms = await startKms();
  const rows = [];
  const pool = new EncryptionWorkerPool();
  try {
    const admin = new KMSClient(kmsConfig(kms.url));
    const keyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata.Arn;
    const items = Array.from({ length: BATCH }, () => randomBytes(4096));
    const r = { steadykms: [], esdk: [] };
    const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const esdkKms = new KMS(kmsConfig(kms.url));
    for (let run = 0; run < RUNS; run++) {
      globalThis.gc?.();
      {
        const materialsManager = new CachingMaterialsManager({
          keyring: new KmsKeyring({ client: admin, generatorKeyId: keyId }),
          maxAgeMs: 300_000,
          maxMessagesEncrypted: 1_000,
        });
        const t0 = performance.now();
        let ok = 0;
        for await (const x of encryptMany(items, {
          materialsManager,
          suite: 0x0578,
          workers: pool,
          concurrency: 64,
          ordered: false,
        })) {
          if (x.ok) ok++;
        }
        if (ok !== BATCH) throw new Error(`steadykms batch: ${BATCH - ok} failed`);
        r.steadykms.push(BATCH / ((performance.now() - t0) / 1000));
        materialsManager.close();
      }
      globalThis.gc?.();
      {
        const cmm = new NodeCachingMaterialsManager({
          backingMaterials: new KmsKeyringNode({
            generatorKeyId: keyId,
            clientProvider: () => esdkKms,
          }),
          cache: getLocalCryptographicMaterialsCache(1_000),
          maxAge: 300_000,
          maxMessagesEncrypted: 1_000,
        });
        const t0 = performance.now();
        let next = 0;
        const worker = async () => {
          for (let i = next++; i < BATCH; i = next++) {
            await esdk.encrypt(cmm, items[i], {
              suiteId: ESDK_SUITES[0x0578],
              plaintextLength: 4096,
            });
          }
        };
        await Promise.all(Array.from({ length: 16 }, worker));
        r.esdk.push(BATCH / ((performance.now() - t0) / 1000));
      }
    }
    rows.push([
      `batch ${BATCH.toLocaleString('en-US')} × 4 KiB 0x0578 via local-kms, caching, msg/s (steadykms: ${pool.size} workers)`,
      median(r.steadykms),
      median(r.esdk),
      r,
    ]);
    admin.destroy();
    esdkKms.destroy();
  } finally {
    await pool.close();
    kms.close();
  }
  return rows;
}

async function main() {
  console.log(
    `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(`runs ${RUNS}, ${SECONDS} s per msg/s run, median shown\n`);
  const rows = [];
  if (CASES.includes('msg')) rows.push(...(await messageCases()));
  if (CASES.includes('stream')) rows.push(...(await streamCases()));
  if (CASES.includes('batch')) rows.push(...(await batchCases()));
  console.log('| case | steadykms | @aws-crypto/client-node | ratio |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, a, b] of rows)
    console.log(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${(a / b).toFixed(2)}× |`);
  // Every run, so a median can be checked and runs from several invocations pooled.
  console.log('\nruns (steadykms / ESDK):');
  for (const [name, , , r] of rows)
    console.log(`  ${name}: ${r.steadykms.map(fmt).join(', ')} / ${r.esdk.map(fmt).join(', ')}`);
  console.log(
    `\nload after: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

if (process.argv[2] === '--child') {
  runChild(JSON.parse(process.argv[3])).then(
    () => process.exit(0),
    (e) => (console.error(e), process.exit(1)),
  );
} else {
  await main();
}
