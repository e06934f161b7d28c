import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CachingMaterialsManager,
  MessageFormatError,
  RawAesKeyring,
  decrypt,
  decryptMany,
  encrypt,
  encryptMany,
  type DecryptionMaterials,
  type EncryptedDataKey,
  type EncryptionMaterials,
  type Keyring,
} from './index.js';

/** Counts keyring calls and how many run at once; optionally slow. */
class CountingKeyring implements Keyring {
  encrypts = 0;
  decrypts = 0;
  active = 0;
  maxActive = 0;
  readonly inner = new RawAesKeyring({
    keyNamespace: 'ns',
    keyName: 'k',
    wrappingKey: randomBytes(32),
  });
  constructor(private readonly delayMs = 0) {}
  async #slow(): Promise<void> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    this.active--;
  }
  async onEncrypt(m: EncryptionMaterials): Promise<EncryptionMaterials> {
    this.encrypts++;
    await this.#slow();
    return this.inner.onEncrypt(m);
  }
  async onDecrypt(
    m: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    this.decrypts++;
    await this.#slow();
    return this.inner.onDecrypt(m, edks);
  }
}

describe('CachingMaterialsManager', () => {
  it('reuses a data key for at most maxMessagesEncrypted messages', async () => {
    const keyring = new CountingKeyring();
    const cmm = new CachingMaterialsManager({ keyring, maxAgeMs: 60_000, maxMessagesEncrypted: 3 });
    const cts: Buffer[] = [];
    for (let i = 0; i < 10; i++)
      cts.push((await encrypt(`m${i}`, { materialsManager: cmm, suite: 0x0478 })).ciphertext);
    expect(keyring.encrypts).toBe(4);
    for (let i = 0; i < 10; i++)
      expect(
        (await decrypt(cts[i] as Buffer, { keyring: keyring.inner })).plaintext.toString(),
      ).toBe(`m${i}`);
    cmm.close();
  });

  it('counts bytes against maxBytesEncrypted and separates encryption contexts', async () => {
    const keyring = new CountingKeyring();
    const cmm = new CachingMaterialsManager({ keyring, maxAgeMs: 60_000, maxBytesEncrypted: 250 });
    for (let i = 0; i < 4; i++)
      await encrypt(randomBytes(100), { materialsManager: cmm, suite: 0x0478 });
    expect(keyring.encrypts).toBe(2);
    await encrypt('x', {
      materialsManager: cmm,
      suite: 0x0478,
      encryptionContext: { other: 'ctx' },
    });
    expect(keyring.encrypts).toBe(3);
    cmm.close();
  });

  it('caches decryption materials for the same message EDKs and context', async () => {
    const keyring = new CountingKeyring();
    const cmm = new CachingMaterialsManager({ keyring, maxAgeMs: 60_000 });
    const { ciphertext } = await encrypt('hello', { keyring: keyring.inner, suite: 0x0578 });
    for (let i = 0; i < 5; i++)
      expect((await decrypt(ciphertext, { materialsManager: cmm })).plaintext.toString()).toBe(
        'hello',
      );
    expect(keyring.decrypts).toBe(1);
    cmm.close();
  });

  it('partitions keep managers apart on a shared cache', async () => {
    const keyring = new CountingKeyring();
    const a = new CachingMaterialsManager({ keyring, maxAgeMs: 60_000, partition: 'a' });
    const b = new CachingMaterialsManager({
      keyring,
      maxAgeMs: 60_000,
      partition: 'b',
      cache: a.cache,
    });
    await encrypt('x', { materialsManager: a, suite: 0x0478 });
    await encrypt('x', { materialsManager: b, suite: 0x0478 });
    await encrypt('x', { materialsManager: a, suite: 0x0478 });
    expect(keyring.encrypts).toBe(2);
    a.close();
  });
});

describe('encryptMany / decryptMany', () => {
  it('results come back in input order with bounded concurrency', async () => {
    const keyring = new CountingKeyring(5);
    const items = Array.from({ length: 40 }, (_, i) => ({ id: i, data: `item ${i}` }));
    const out = [];
    for await (const r of encryptMany(items, { keyring, suite: 0x0478, concurrency: 4 }))
      out.push(r);
    expect(out.map((r) => r.index)).toEqual(items.map((_, i) => i));
    expect(out.every((r) => r.ok)).toBe(true);
    expect(keyring.maxActive).toBeLessThanOrEqual(4);
    expect(keyring.maxActive).toBeGreaterThan(1);
  });

  it('a per-item error never stops the batch, unordered results and progress', async () => {
    const keyring = new RawAesKeyring({
      keyNamespace: 'ns',
      keyName: 'k',
      wrappingKey: randomBytes(32),
    });
    const good = await encrypt('fine', { keyring, suite: 0x0478 });
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 10; i++) {
        await Promise.resolve();
        yield i === 3 ? Buffer.from('not a message') : good.ciphertext;
      }
    }
    const progress: number[] = [];
    const out = [];
    for await (const r of decryptMany(source(), {
      keyring,
      ordered: false,
      onProgress: (p) => progress.push(p.succeeded + p.failed),
    }))
      out.push(r);
    expect(out).toHaveLength(10);
    expect(out.filter((r) => !r.ok).map((r) => r.index)).toEqual([3]);
    expect(progress.at(-1)).toBe(10);
  });

  it('an AbortSignal stops taking new items', async () => {
    const keyring = new CountingKeyring(2);
    const ac = new AbortController();
    let n = 0;
    function* endless(): Generator<string> {
      for (;;) yield `x${n++}`;
    }
    const out = [];
    for await (const r of encryptMany(endless(), {
      keyring,
      suite: 0x0478,
      concurrency: 2,
      signal: ac.signal,
    })) {
      out.push(r);
      if (out.length === 5) ac.abort();
    }
    expect(out.length).toBeGreaterThanOrEqual(5);
    expect(out.length).toBeLessThanOrEqual(8);
  });
});

describe('EncryptionWorkerPool', () => {
  it('encryptMany with worker threads writes messages that decrypt, and reports per-item errors', async () => {
    const { EncryptionWorkerPool } = await import('./index.js');
    const pool = new EncryptionWorkerPool({ size: 2 });
    try {
      const keyring = new RawAesKeyring({
        keyNamespace: 'ns',
        keyName: 'k',
        wrappingKey: randomBytes(32),
      });
      const items = Array.from({ length: 20 }, (_, i) => ({ id: i, data: randomBytes(5000 + i) }));
      const out = [];
      for await (const r of encryptMany(items, { keyring, workers: pool, concurrency: 8 }))
        out.push(r);
      expect(out.every((r) => r.ok)).toBe(true);
      for (const r of out) {
        if (!r.ok) continue;
        expect(r.value.suiteId).toBe(0x0578);
        expect(
          (await decrypt(r.value.ciphertext, { keyring })).plaintext.equals(
            items[r.index]?.data as Buffer,
          ),
        ).toBe(true);
      }
      // The same pool decrypts: headers and keyrings here, verification in the workers.
      const cts = out.flatMap((r) => (r.ok ? [{ id: r.index, data: r.value.ciphertext }] : []));
      cts.push({ id: 99, data: Buffer.concat([cts[0]?.data as Buffer, Buffer.from([0])]) });
      const dec = [];
      for await (const r of decryptMany(cts, { keyring, workers: pool })) dec.push(r);
      expect(dec).toHaveLength(21);
      for (const r of dec.slice(0, 20)) {
        expect(r.ok && r.value.plaintext.equals(items[r.id as number]?.data as Buffer)).toBe(true);
      }
      expect(dec[20]?.ok).toBe(false);
      expect(dec[20]?.ok === false && MessageFormatError.is(dec[20].error)).toBe(true);
      const bad = [];
      for await (const r of encryptMany(['x'], {
        keyring,
        workers: pool,
        encryptionContext: { 'aws-crypto-x': 'y' },
      }))
        bad.push(r);
      expect(bad[0]?.ok).toBe(false);
    } finally {
      await pool.close();
    }
  });
});
