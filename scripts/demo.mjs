// The README's main job (`bash scripts/demo.sh`, after `pnpm build`): start the embedded local KMS with
// a small quota, create a key and an alias, encrypt and decrypt, then burst past the quota with the bare
// SDK and show the ThrottlingException that KMS would send. Exits 0 when every step did what it should.
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'packages', 'local-kms', 'dist', 'index.js');
if (!existsSync(dist)) {
  console.error(
    'demo: packages/local-kms/dist is missing; run `pnpm build` (scripts/demo.sh does)',
  );
  process.exit(1);
}
// The root has no dependencies of its own; the SDK is a dependency of the bench workspace package.
const requireFromBench = createRequire(join(root, 'bench', 'package.json'));
const sdk = requireFromBench('@aws-sdk/client-kms');
const { startLocalKms } = await import(pathToFileURL(dist).href);
const core = await import(pathToFileURL(join(root, 'packages', 'core', 'dist', 'index.js')).href);

const REGION = 'eu-west-1';
const SYMMETRIC_RPS = 50;
const step = (text) => console.log(`\n▸ ${text}`);
const ok = (text) => console.log(`  ✓ ${text}`);
let failed = false;
const check = (cond, text) => {
  if (cond) ok(text);
  else {
    failed = true;
    console.log(`  ✗ ${text}`);
  }
};

step(
  `Starting local KMS with quotas of the real table, symmetric pool overridden to ${SYMMETRIC_RPS} rps`,
);
const kms = await startLocalKms({ quotas: { overrides: { symmetric: SYMMETRIC_RPS } } });
ok(`listening on ${kms.url}`);

// The unmodified SDK client: only the endpoint points elsewhere. maxAttempts 1 shows what the wire says.
const client = new sdk.KMSClient({
  endpoint: kms.url,
  region: REGION,
  credentials: { accessKeyId: 'AKIDDEMO', secretAccessKey: 'demo' },
  maxAttempts: 1,
});

try {
  step('CreateKey and CreateAlias');
  const created = await client.send(new sdk.CreateKeyCommand({ Description: 'steadykms demo' }));
  const key = created.KeyMetadata;
  ok(`${key.Arn} (${key.KeySpec}, ${key.KeyState})`);
  await client.send(
    new sdk.CreateAliasCommand({ AliasName: 'alias/demo', TargetKeyId: key.KeyId }),
  );
  ok('alias/demo → ' + key.KeyId);

  step('Encrypt through the alias, then Decrypt with the same encryption context');
  const context = { purpose: 'demo' };
  const enc = await client.send(
    new sdk.EncryptCommand({
      KeyId: 'alias/demo',
      Plaintext: Buffer.from('hello, steadykms'),
      EncryptionContext: context,
    }),
  );
  ok(`ciphertext: ${enc.CiphertextBlob.length} bytes under ${enc.KeyId}`);
  const dec = await client.send(
    new sdk.DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }),
  );
  const plaintext = Buffer.from(dec.Plaintext).toString('utf8');
  check(plaintext === 'hello, steadykms', `plaintext back: "${plaintext}"`);
  try {
    await client.send(
      new sdk.DecryptCommand({
        CiphertextBlob: enc.CiphertextBlob,
        EncryptionContext: { purpose: 'other' },
      }),
    );
    check(false, 'a different encryption context must not decrypt');
  } catch (e) {
    check(e.name === 'InvalidCiphertextException', `another context is refused: ${e.name}`);
  }

  step(
    `Burst: 200 GenerateDataKey at once against a ${SYMMETRIC_RPS} rps quota, bare SDK, no retries`,
  );
  // Start on a fresh second so the burst lands in one one-second window (or a few, on a slow machine).
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  const firstSecond = Math.floor(Date.now() / 1000);
  const results = await Promise.allSettled(
    Array.from({ length: 200 }, () =>
      client.send(new sdk.GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' })),
    ),
  );
  const windows = Math.floor(Date.now() / 1000) - firstSecond + 1;
  const accepted = results.filter((r) => r.status === 'fulfilled').length;
  const throttles = results.filter(
    (r) => r.status === 'rejected' && r.reason.name === 'ThrottlingException',
  );
  console.log(`  accepted: ${accepted}, ThrottlingException: ${throttles.length}`);
  const sample = throttles[0]?.reason;
  if (sample) {
    console.log(`  HTTP ${sample.$metadata.httpStatusCode} ${sample.name}: "${sample.message}"`);
  }
  check(
    accepted >= SYMMETRIC_RPS && accepted <= windows * SYMMETRIC_RPS,
    `the quota admitted ${SYMMETRIC_RPS} per one-second window (${windows} window${windows > 1 ? 's' : ''} spanned)`,
  );
  check(
    throttles.length > 0 && accepted + throttles.length === 200,
    'everything else was throttled, nothing failed otherwise',
  );

  step(
    `The same burst through steadykms: withSteadyKms(client, { quotas }) paces to ${SYMMETRIC_RPS} rps`,
  );
  // A second window's worth of quota must be free before the paced burst starts.
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  kms.resetStats();
  const steady = core.withSteadyKms(
    new sdk.KMSClient({
      endpoint: kms.url,
      region: REGION,
      credentials: { accessKeyId: 'AKIDDEMO', secretAccessKey: 'demo' },
    }),
    { quotas: { overrides: { symmetric: SYMMETRIC_RPS } } },
  );
  const started = Date.now();
  const paced = await Promise.allSettled(
    Array.from({ length: 200 }, () =>
      steady.send(new sdk.GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' })),
    ),
  );
  const seconds = (Date.now() - started) / 1000;
  steady.destroy();
  const pacedOk = paced.filter((r) => r.status === 'fulfilled').length;
  const seen = kms.stats().byOperation['GenerateDataKey'] ?? { accepted: 0, throttled: 0 };
  console.log(
    `  succeeded: ${pacedOk} of 200 in ${seconds.toFixed(1)} s (${(pacedOk / seconds).toFixed(1)} per second)`,
  );
  console.log(`  the server saw: accepted ${seen.accepted}, throttled ${seen.throttled}`);
  check(pacedOk === 200, 'every call succeeded: no ThrottlingException reached the caller');
  check(seen.throttled <= 2, 'the limiter kept the server from throttling (at most a stray one)');

  step('What the server saw (stats by operation and pool, since the paced burst)');
  const s = kms.stats();
  for (const [name, c] of Object.entries(s.byOperation)) {
    console.log(
      `  ${name.padEnd(16)} accepted ${String(c.accepted).padStart(4)}  throttled ${String(c.throttled).padStart(4)}  errors ${c.errors}`,
    );
  }
  for (const [pool, c] of Object.entries(s.byRegionPool)) {
    console.log(
      `  ${pool.padEnd(30)} accepted ${String(c.accepted).padStart(4)}  throttled ${String(c.throttled).padStart(4)}`,
    );
  }
} catch (e) {
  failed = true;
  console.error('demo failed:', e);
} finally {
  client.destroy();
  await kms.close();
}
console.log(failed ? '\ndemo: FAILED' : '\ndemo: done, local KMS closed');
process.exit(failed ? 1 : 0);
