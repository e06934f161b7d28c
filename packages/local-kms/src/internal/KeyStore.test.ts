import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlob, sealBlob } from './ciphertext.js';
import { KeyStore } from './KeyStore.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'local-kms-store-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const fields = {
  region: 'us-east-1',
  description: '',
  keyUsage: 'ENCRYPT_DECRYPT',
  keySpec: 'SYMMETRIC_DEFAULT',
  origin: 'AWS_KMS',
  state: 'Enabled',
  policy: '',
  tags: [],
} as const;

describe('KeyStore persistence', () => {
  it('compacts the journal into the snapshot every N records and replays both on start', () => {
    const dir = tempDir();
    const store = new KeyStore('111122223333', () => 0, dir, 5);
    const keys = Array.from({ length: 12 }, () => store.createKey(fields));
    const blob = sealBlob(
      keys[11]!.materials[0]!,
      keys[11]!.stored.id,
      0,
      Buffer.from('x'),
      undefined,
    );
    store.close();
    const journalLines = readFileSync(join(dir, 'journal.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    expect(journalLines.length).toBeLessThan(5);
    const snapshot = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
      keys: unknown[];
    };
    expect(snapshot.keys.length).toBeGreaterThanOrEqual(10);

    const again = new KeyStore('111122223333', () => 0, dir, 5);
    expect(again.keys('us-east-1').map((k) => k.stored.id)).toEqual(keys.map((k) => k.stored.id));
    const reloaded = again.byId('us-east-1', keys[11]!.stored.id)!;
    expect(openBlob(reloaded.materials[0]!, blob, undefined)?.toString()).toBe('x');
    again.close();
  });

  it('refuses a journal corrupted before its last line', () => {
    const dir = tempDir();
    const store = new KeyStore('111122223333', () => 0, dir);
    store.createKey(fields);
    store.close();
    const path = join(dir, 'journal.jsonl');
    writeFileSync(path, `not json\n${readFileSync(path, 'utf8')}`);
    expect(() => new KeyStore('111122223333', () => 0, dir)).toThrow(/line 1 is corrupt/);
  });

  it('keeps custom key stores and the keys in them across a restart', () => {
    const dir = tempDir();
    const store = new KeyStore('111122223333', () => 0, dir);
    store.putStore({
      region: 'us-east-1',
      id: 'cks-1234567890abcdef0',
      name: 'hsm',
      cloudHsmClusterId: 'cluster-1234567890a',
      trustAnchorCertificate: 'pem',
      state: 'CONNECTED',
      creationDate: 0,
    });
    const key = store.createKey({
      ...fields,
      origin: 'AWS_CLOUDHSM',
      customKeyStoreId: 'cks-1234567890abcdef0',
    });
    store.close();
    const again = new KeyStore('111122223333', () => 0, dir);
    expect(again.store('us-east-1', 'cks-1234567890abcdef0')?.state).toBe('CONNECTED');
    expect(again.byId('us-east-1', key.stored.id)?.stored.customKeyStoreId).toBe(
      'cks-1234567890abcdef0',
    );
    expect(again.hasStores()).toBe(true);
    again.close();
  });
});
