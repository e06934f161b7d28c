import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { MASTER_KEY_ENV } from '@steadykms/local-kms';
import { localKmsClientConfig, startTestKms } from './support/index.js';

const BIN = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'packages',
  'local-kms',
  'dist',
  'bin.js',
);
const dirs: string[] = [];
const children: ChildProcess[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'local-kms-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('persistence with dataDir', () => {
  it('keys, aliases, states and material survive a restart', async () => {
    const dataDir = tempDir();
    const a = await startTestKms({ dataDir, quotas: false });
    const c = a.client();
    const live = (await c.send(new CreateKeyCommand({ Description: 'live' }))).KeyMetadata!;
    const off = (await c.send(new CreateKeyCommand({}))).KeyMetadata!;
    const doomed = (await c.send(new CreateKeyCommand({}))).KeyMetadata!;
    await c.send(new CreateAliasCommand({ AliasName: 'alias/live', TargetKeyId: live.KeyId! }));
    await c.send(new DisableKeyCommand({ KeyId: off.KeyId! }));
    await c.send(new ScheduleKeyDeletionCommand({ KeyId: doomed.KeyId!, PendingWindowInDays: 9 }));
    const ct = await c.send(
      new EncryptCommand({
        KeyId: 'alias/live',
        Plaintext: Buffer.from('kept'),
        EncryptionContext: { a: 'b' },
      }),
    );
    const west = a.client({ region: 'eu-west-1' });
    const westKey = (await west.send(new CreateKeyCommand({}))).KeyMetadata!;
    await a.close();

    const master = statSync(join(dataDir, 'master.key'));
    expect(master.mode & 0o777).toBe(0o600);

    const b = await startTestKms({ dataDir, quotas: false });
    const c2 = b.client();
    const d = await c2.send(
      new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob, EncryptionContext: { a: 'b' } }),
    );
    expect(Buffer.from(d.Plaintext!).toString()).toBe('kept');
    expect((await c2.send(new DescribeKeyCommand({ KeyId: 'alias/live' }))).KeyMetadata).toEqual(
      live,
    );
    expect(
      (await c2.send(new DescribeKeyCommand({ KeyId: off.KeyId! }))).KeyMetadata?.KeyState,
    ).toBe('Disabled');
    const dm = (await c2.send(new DescribeKeyCommand({ KeyId: doomed.KeyId! }))).KeyMetadata!;
    expect(dm.KeyState).toBe('PendingDeletion');
    expect(dm.PendingDeletionWindowInDays).toBe(9);
    expect((await c2.send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyId)).toEqual([
      live.KeyId,
      off.KeyId,
      doomed.KeyId,
    ]);
    expect((await c2.send(new ListAliasesCommand({}))).Aliases?.map((x) => x.AliasName)).toEqual([
      'alias/live',
    ]);
    const west2 = b.client({ region: 'eu-west-1' });
    expect((await west2.send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyId)).toEqual([
      westKey.KeyId,
    ]);
    await b.close();
  });

  it('multi-Region replicas and rotations survive a restart', async () => {
    const dataDir = tempDir();
    const a = await startTestKms({ dataDir, quotas: false });
    const east = a.client();
    const id = (await east.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.KeyId!;
    const old = await east.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('v0') }));
    await east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
    await east.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    const fresh = await east.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('v1') }));
    await a.close();
    const b = await startTestKms({ dataDir, quotas: false });
    const west = b.client({ region: 'eu-west-1' });
    for (const [blob, text] of [
      [old.CiphertextBlob, 'v0'],
      [fresh.CiphertextBlob, 'v1'],
    ] as const) {
      const d = await west.send(new DecryptCommand({ CiphertextBlob: blob }));
      expect(Buffer.from(d.Plaintext!).toString()).toBe(text);
    }
    const m = (await west.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    expect(m.MultiRegionConfiguration?.MultiRegionKeyType).toBe('REPLICA');
    await b.close();
  });

  it('material at rest is sealed under the master key: another master key cannot open the data', async () => {
    const dataDir = tempDir();
    const a = await startTestKms({ dataDir, quotas: false });
    await a.client().send(new CreateKeyCommand({}));
    await a.close();
    const journal = readFileSync(join(dataDir, 'journal.jsonl'), 'utf8');
    expect(journal).toMatch(/"materials":\["[A-Za-z0-9+/=]{80,}"\]/);
    const before = process.env[MASTER_KEY_ENV];
    process.env[MASTER_KEY_ENV] = Buffer.alloc(32, 9).toString('base64');
    try {
      await expect(startTestKms({ dataDir })).rejects.toThrow(/master key/);
    } finally {
      if (before === undefined) delete process.env[MASTER_KEY_ENV];
      else process.env[MASTER_KEY_ENV] = before;
    }
  });

  it('refuses a second server on the same dataDir, and lets one in once the first has closed', async () => {
    const dataDir = tempDir();
    const a = await startTestKms({ dataDir, quotas: false });
    await expect(startTestKms({ dataDir })).rejects.toThrow(/already open|in use/);
    await a.close();
    const b = await startTestKms({ dataDir, quotas: false });
    await b.close();
  });

  it('ignores a torn last journal line (written but never acknowledged)', async () => {
    const dataDir = tempDir();
    const a = await startTestKms({ dataDir, quotas: false });
    const key = (await a.client().send(new CreateKeyCommand({}))).KeyMetadata!;
    // Kill-like stop: leave the journal as it is, then add half a record.
    appendFileSync(join(dataDir, 'journal.jsonl'), '{"t":"key","key":{"region":"us-');
    await a.close();
    const b = await startTestKms({ dataDir, quotas: false });
    expect(
      (await b.client().send(new DescribeKeyCommand({ KeyId: key.KeyId! }))).KeyMetadata?.Arn,
    ).toBe(key.Arn);
    await b.close();
  });
});

function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  if (!existsSync(BIN)) {
    throw new Error(
      `${BIN} is missing: run \`pnpm build\` before this test (scripts/test.sh does)`,
    );
  }
  const child = spawn(process.execPath, [BIN, '--data-dir', dataDir, '--quotas', 'off'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1] !== undefined) resolve({ child, url: m[1] });
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) =>
      reject(new Error(`local-kms exited with ${String(code)}: ${err}`)),
    );
  });
}

describe('kill -9', () => {
  it('loses nothing acknowledged: every acknowledged key exists and every acknowledged ciphertext decrypts', async () => {
    const dataDir = tempDir();
    const first = await startChild(dataDir);
    const client = new KMSClient(localKmsClientConfig(first.url));
    const shared = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const keys: string[] = [shared];
    const ciphertexts: { blob: Uint8Array; plaintext: string; context: Record<string, string> }[] =
      [];
    let n = 0;
    let dead = false;
    const failures: unknown[] = [];
    const worker = async (w: number): Promise<void> => {
      while (!dead) {
        const i = n++;
        try {
          if (i % 3 === 0) {
            const k = await client.send(new CreateKeyCommand({ Description: `burst ${i}` }));
            keys.push(k.KeyMetadata!.KeyId!);
            const e = await client.send(
              new EncryptCommand({
                KeyId: k.KeyMetadata!.KeyId!,
                Plaintext: Buffer.from(`p${i}`),
                EncryptionContext: { i: `${i}` },
              }),
            );
            ciphertexts.push({
              blob: e.CiphertextBlob!,
              plaintext: `p${i}`,
              context: { i: `${i}` },
            });
          } else {
            const e = await client.send(
              new EncryptCommand({
                KeyId: shared,
                Plaintext: Buffer.from(`s${i}/${w}`),
                EncryptionContext: {},
              }),
            );
            ciphertexts.push({ blob: e.CiphertextBlob!, plaintext: `s${i}/${w}`, context: {} });
          }
        } catch (e) {
          // The server died under this call: it was never acknowledged.
          if (!dead) failures.push(e);
          return;
        }
      }
    };
    const burst = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    // Let the burst run until a good number of keys were acknowledged, then kill -9 mid-flight.
    while (keys.length < 25 && failures.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(failures).toEqual([]);
    // Listen before killing: the exit can fire while the burst is still unwinding, and a
    // listener attached after it would wait forever.
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    dead = true;
    await burst;
    await exited;
    client.destroy();
    expect(keys.length).toBeGreaterThanOrEqual(25);

    const second = await startChild(dataDir);
    const after = new KMSClient(localKmsClientConfig(second.url));
    const listed = new Set<string>();
    let marker: string | undefined;
    do {
      const page = await after.send(
        new ListKeysCommand({ Limit: 1000, ...(marker ? { Marker: marker } : {}) }),
      );
      for (const k of page.Keys ?? []) listed.add(k.KeyId!);
      marker = page.NextMarker;
    } while (marker !== undefined);
    for (const k of keys) expect(listed.has(k), k).toBe(true);
    for (const c of ciphertexts) {
      const d = await after.send(
        new DecryptCommand({ CiphertextBlob: c.blob, EncryptionContext: c.context }),
      );
      expect(Buffer.from(d.Plaintext!).toString()).toBe(c.plaintext);
    }
    // The killed server's lock was taken over; the live child's lock keeps this process out.
    await expect(startTestKms({ dataDir })).rejects.toThrow(/in use by process/);
    after.destroy();
    second.child.kill('SIGTERM');
  });
});
