#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { QuotaOptions, QuotaPool, QuotasSetting } from '@steadykms/core';
import type { FaultsSetting } from './internal/faults.js';
import { startLocalKms } from './startLocalKms.js';

const HELP = `Usage: local-kms [options]

A KMS-compatible HTTP server with real request quotas, fault injection and durable keys.

  --host <addr>              interface to listen on (default 127.0.0.1)
  --port <n>                 TCP port, 0 for any free one (default 0)
  --data-dir <dir>           keep keys in <dir> (default: in memory)
  --account-id <12 digits>   account id in ARNs (default 111122223333)
  --quotas <profile|off>     'current' (default), '2022', or 'off'
  --quota-scale <x>          multiply every default quota, e.g. 0.01
  --quota-override <p=rps>   quota of one pool, repeatable: --quota-override control/CreateKey=1
  --faults <json|@file>      fault setting: {"seed":1,"operations":{"Encrypt":{"internalError":0.1}}}
  --fault-seed <n>           seed of the fault setting (overrides the JSON's seed)
  --credentials <id:secret>  strict mode: verify SigV4 signatures against these credentials (repeatable)
  --audit-log <path>         append CloudTrail-shaped audit records to <path>
  --hot-key-state-changes <n> at most n state changes per key per second (default: off)
  --transport <net|http>     'net' (a lean HTTP/1.1 server, default) or 'http' (node:http)
  --keep-alive-timeout <ms>  close keep-alive connections idle this long (default: 60000)
  -h, --help                 show this help

The master key for material at rest comes from LOCAL_KMS_MASTER_KEY (base64 of 32 bytes) or
<data-dir>/master.key. Prints "local-kms listening on <url>" once ready; SIGINT/SIGTERM stop it.`;

function fail(message: string): never {
  console.error(`local-kms: ${message}`);
  process.exit(2);
}

function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'account-id': { type: 'string' },
      quotas: { type: 'string' },
      'quota-scale': { type: 'string' },
      'quota-override': { type: 'string', multiple: true },
      faults: { type: 'string' },
      'fault-seed': { type: 'string' },
      credentials: { type: 'string', multiple: true },
      'audit-log': { type: 'string' },
      'hot-key-state-changes': { type: 'string' },
      transport: { type: 'string' },
      'keep-alive-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(HELP);
    return Promise.resolve();
  }
  let quotas: QuotasSetting;
  if (values.quotas === 'off') quotas = false;
  else {
    const profile = values.quotas ?? 'current';
    if (profile !== 'current' && profile !== '2022') fail(`--quotas must be current, 2022 or off`);
    const overrides: Partial<Record<QuotaPool, number>> = {};
    for (const o of values['quota-override'] ?? []) {
      const eq = o.lastIndexOf('=');
      if (eq < 1) fail(`--quota-override wants pool=rps, got ${o}`);
      overrides[o.slice(0, eq) as QuotaPool] = Number(o.slice(eq + 1));
    }
    const q: { -readonly [K in keyof QuotaOptions]: QuotaOptions[K] } = { profile, overrides };
    if (values['quota-scale'] !== undefined) q.scale = Number(values['quota-scale']);
    quotas = q;
  }
  let faults: FaultsSetting | undefined;
  if (values.faults !== undefined) {
    const text = values.faults.startsWith('@')
      ? readFileSync(values.faults.slice(1), 'utf8')
      : values.faults;
    try {
      faults = JSON.parse(text) as FaultsSetting;
    } catch {
      fail('--faults is not valid JSON');
    }
  }
  if (values['fault-seed'] !== undefined) {
    faults = { ...faults, seed: Number(values['fault-seed']) };
  }
  const transport = values.transport;
  if (transport !== undefined && transport !== 'http' && transport !== 'net') {
    fail('--transport must be http or net');
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  const credentials: Record<string, string> = {};
  for (const c of values.credentials ?? []) {
    const colon = c.indexOf(':');
    if (colon < 1) fail(`--credentials wants accessKeyId:secretAccessKey`);
    credentials[c.slice(0, colon)] = c.slice(colon + 1);
  }
  return startLocalKms({
    port,
    quotas,
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(transport === undefined ? {} : { transport }),
    ...(values['keep-alive-timeout'] === undefined
      ? {}
      : { keepAliveTimeoutMs: Number(values['keep-alive-timeout']) }),
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
    ...(values['account-id'] === undefined ? {} : { accountId: values['account-id'] }),
    ...(faults === undefined ? {} : { faults }),
    ...(values['audit-log'] === undefined ? {} : { auditLog: values['audit-log'] }),
    ...(values['hot-key-state-changes'] === undefined
      ? {}
      : { hotKeyStateChanges: Number(values['hot-key-state-changes']) }),
    ...(Object.keys(credentials).length === 0 ? {} : { strict: { credentials } }),
  }).then((kms) => {
    console.log(`local-kms listening on ${kms.url}`);
    const stop = (): void => {
      void kms.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

try {
  await main();
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
