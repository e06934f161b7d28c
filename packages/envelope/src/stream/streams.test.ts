import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { chunked } from './streams.testkit.js';
import {
  DecryptionError,
  MessageFormatError,
  RawAesKeyring,
  decrypt,
  decryptStream,
  decryptWebStream,
  encrypt,
  encryptStream,
  encryptWebStream,
  type EncryptSuiteId,
} from '../index.js';

const keyring = new RawAesKeyring({
  keyNamespace: 'ns',
  keyName: 'k',
  wrappingKey: randomBytes(32),
});

async function collect(r: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe.each([
  ['0478', 0x0478],
  ['0578', 0x0578],
] as Array<[string, EncryptSuiteId]>)('streams, suite 0x%s', (_hex, suite) => {
  it.each([0, 1, 4096, 4097, 3 * 4096, 100_000])(
    'stream round-trip of %i bytes, odd chunking, both directions',
    async (n) => {
      const pt = randomBytes(n);
      const ct = await collect(
        chunked(pt, [1, 7, 5000, 333]).pipe(
          encryptStream({ keyring, suite, encryptionContext: { a: 'b' } }),
        ),
      );
      // A streamed message is an ordinary message: the buffer API reads it, and the stream reads buffer output.
      expect((await decrypt(ct, { keyring })).plaintext.equals(pt)).toBe(true);
      const out = await collect(chunked(ct, [3, 1000, 17]).pipe(decryptStream({ keyring })));
      expect(out.equals(pt)).toBe(true);
      const { ciphertext } = await encrypt(pt, { keyring, suite, frameLength: 100 });
      expect(
        (await collect(chunked(ciphertext, [65536]).pipe(decryptStream({ keyring })))).equals(pt),
      ).toBe(true);
    },
  );

  it('a tampered final frame releases nothing of that frame', async () => {
    const pt = randomBytes(3 * 64);
    const { ciphertext } = await encrypt(pt, { keyring, suite, frameLength: 64 });
    const bad = Buffer.from(ciphertext);
    const last = bad.length - (suite === 0x0578 ? 2 + footerSigLen(ciphertext) : 0) - 20;
    bad[last] = (bad[last] as number) ^ 1;
    const got: Buffer[] = [];
    const d = decryptStream({ keyring });
    const err = await pipeline(
      chunked(bad, [bad.length]),
      d,
      new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()) }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(DecryptionError.is(err)).toBe(true);
    expect(Buffer.concat(got).equals(pt.subarray(0, 128))).toBe(true);
  });

  it('truncated and trailing input are typed errors', async () => {
    const { ciphertext } = await encrypt(randomBytes(100), { keyring, suite, frameLength: 10 });
    for (const input of [
      ciphertext.subarray(0, ciphertext.length - 1),
      Buffer.concat([ciphertext, Buffer.from([1])]),
    ]) {
      const e = await collect(chunked(input, [50]).pipe(decryptStream({ keyring }))).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(MessageFormatError.is(e)).toBe(true);
    }
  });
});

/** Signature length of a 0x0578 message: the footer's 2-byte length sits right before the signature. */
function footerSigLen(ct: Buffer): number {
  for (let n = 100; n <= 104; n++) if (ct.readUInt16BE(ct.length - n - 2) === n) return n;
  throw new Error('no footer');
}

describe('signed stream hold-back', () => {
  it('for signed suites the final frame is held back until the signature verifies', async () => {
    const pt = randomBytes(3 * 64);
    const { ciphertext } = await encrypt(pt, { keyring, suite: 0x0578, frameLength: 64 });
    const bad = Buffer.from(ciphertext);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1; // corrupt the signature only
    const got: Buffer[] = [];
    const err = await pipeline(
      chunked(bad, [bad.length]),
      decryptStream({ keyring }),
      new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()) }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(DecryptionError.is(err)).toBe(true);
    // The regular frames verified and were released; the final frame's 64 bytes were not.
    expect(Buffer.concat(got).equals(pt.subarray(0, 128))).toBe(true);
  });
});

describe('abort', () => {
  it('an AbortSignal destroys the stream with an AbortError', async () => {
    const ac = new AbortController();
    const enc = encryptStream({ keyring, suite: 0x0478, signal: ac.signal });
    const done = collect(enc).then(
      () => undefined,
      (e: unknown) => e,
    );
    enc.write(randomBytes(10_000));
    ac.abort();
    expect(((await done) as Error | undefined)?.name).toBe('AbortError');
  });
});

describe('web streams', () => {
  it('encryptWebStream and decryptWebStream round-trip', async () => {
    const pt = randomBytes(10_000);
    const ct = await new Response(
      new Blob([pt]).stream().pipeThrough(encryptWebStream({ keyring, suite: 0x0478 })),
    ).arrayBuffer();
    const out = await new Response(
      new Blob([ct]).stream().pipeThrough(decryptWebStream({ keyring })),
    ).arrayBuffer();
    expect(Buffer.from(out).equals(pt)).toBe(true);
  });
});

describe('bounded memory', () => {
  it('a 256 MiB generated stream encrypts and decrypts with bounded RSS and heap growth', async () => {
    const total = 256 * 1024 * 1024;
    const block = randomBytes(64 * 1024);
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent >= total) return void this.push(null);
        sent += block.length;
        this.push(block);
      },
    });
    let received = 0;
    let peakRss = 0;
    let peakHeap = 0;
    global.gc?.();
    const rss0 = process.memoryUsage.rss();
    const heap0 = process.memoryUsage().heapUsed;
    let n = 0;
    await pipeline(
      source,
      encryptStream({ keyring, suite: 0x0478 }),
      decryptStream({ keyring }),
      new Writable({
        write(c: Buffer, _e, cb) {
          received += c.length;
          if ((++n & 255) === 0) {
            peakRss = Math.max(peakRss, process.memoryUsage.rss() - rss0);
            peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - heap0);
          }
          cb();
        },
      }),
    );
    expect(received).toBe(total);
    expect(peakRss).toBeLessThan(64 * 1024 * 1024);
    expect(peakHeap).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);
});

describe('any chunking', () => {
  it('decryptStream gives the same plaintext however the message is cut', async () => {
    const fc = (await import('fast-check')).default;
    const pt = randomBytes(1500);
    const { ciphertext } = await encrypt(pt, { keyring, suite: 0x0578, frameLength: 100 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
        async (sizes) => {
          const out = await collect(chunked(ciphertext, sizes).pipe(decryptStream({ keyring })));
          expect(out.equals(pt)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
