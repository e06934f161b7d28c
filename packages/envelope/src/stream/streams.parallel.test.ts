import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { chunked } from './streams.testkit.js';
import {
  DecryptionError,
  MessageFormatError,
  RawAesKeyring,
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
} from '../index.js';
import { liveFrameWorkers } from '../internal/parallelFrames.js';

const keyring = new RawAesKeyring({
  keyNamespace: 'ns',
  keyName: 'k',
  wrappingKey: randomBytes(32),
});

/** Workers from the first byte, so small inputs exercise the parallel path. */
const PARALLEL = { threads: 1, parallelAfterBytes: 0 } as const;

/** Runs `input` through `t`, keeping every chunk released; resolves with them and the error, if any. */
async function run(
  input: Readable,
  t: NodeJS.ReadWriteStream,
): Promise<{ out: Buffer; err: unknown }> {
  const got: Buffer[] = [];
  const err = await pipeline(
    input,
    t,
    new Writable({ write: (c: Buffer, _e, cb) => (got.push(Buffer.from(c)), cb()) }),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { out: Buffer.concat(got), err };
}

async function noWorkersLeft(): Promise<number> {
  for (let i = 0; i < 200 && liveFrameWorkers() > 0; i++) await sleep(10);
  return liveFrameWorkers();
}

/** Offset in a framed 0x0478/0x0578 message body of frame `seq` (1-based), after `headerLength` bytes. */
function frameOffset(headerLength: number, frameLength: number, seq: number): number {
  return headerLength + (seq - 1) * (4 + 12 + frameLength + 16);
}

/** Header length of a message: the body starts at the first frame, whose sequence number is 1. */
function headerLengthOf(ct: Buffer, frameLength: number): number {
  // Frame 1 then frame 2 at a known stride: the only offset where both sequence numbers line up.
  const stride = 4 + 12 + frameLength + 16;
  for (let o = 0; o < ct.length - stride - 4; o++)
    if (ct.readUInt32BE(o) === 1 && ct.readUInt32BE(o + stride) === 2) return o;
  throw new Error('no frames');
}

describe('parallel streams', () => {
  it('parallel and serial encryption give messages that decrypt identically, both ways', async () => {
    const pt = randomBytes(3 * (1 << 20) + 12_345);
    const serialCt = (
      await run(chunked(pt, [65_536, 7]), encryptStream({ keyring, suite: 0x0478 }))
    ).out;
    const parallel = await run(
      chunked(pt, [65_536, 7]),
      encryptStream({ keyring, suite: 0x0478, ...PARALLEL }),
    );
    expect(parallel.err).toBeUndefined();
    // Same framing: a message ID and a header of the same size, then the same number of frame bytes.
    expect(parallel.out.length).toBe(serialCt.length);
    for (const ct of [serialCt, parallel.out]) {
      expect((await decrypt(ct, { keyring })).plaintext.equals(pt)).toBe(true);
      const s = await run(chunked(ct, [65_536]), decryptStream({ keyring, threads: 0 }));
      const p = await run(chunked(ct, [65_536, 3]), decryptStream({ keyring, ...PARALLEL }));
      expect(s.err).toBeUndefined();
      expect(p.err).toBeUndefined();
      expect(p.out.equals(s.out)).toBe(true);
      expect(p.out.equals(pt)).toBe(true);
    }
    expect(await noWorkersLeft()).toBe(0);
  });

  it.each([
    [1, 70_001],
    [1000, 2_500_007],
    [4096, 4096 * 600],
    [65_537, 3_000_001],
  ])(
    'frame length %i, %i bytes, odd chunks: parallel round trip',
    async (frameLength, n) => {
      const pt = randomBytes(n);
      const enc = await run(
        chunked(pt, [333, 100_000, 1]),
        encryptStream({ keyring, suite: 0x0578, frameLength, ...PARALLEL }),
      );
      expect(enc.err).toBeUndefined();
      expect((await decrypt(enc.out, { keyring })).plaintext.equals(pt)).toBe(true);
      const dec = await run(chunked(enc.out, [77_777, 5]), decryptStream({ keyring, ...PARALLEL }));
      expect(dec.err).toBeUndefined();
      expect(dec.out.equals(pt)).toBe(true);
    },
    60_000,
  );

  it('a tampered frame in the middle of a parallel batch: no plaintext from that frame or after it', async () => {
    const frameLength = 4096;
    const pt = randomBytes(frameLength * 1000);
    const { ciphertext } = await encrypt(pt, { keyring, suite: 0x0478, frameLength });
    const bad = Buffer.from(ciphertext);
    // Batches hold 254 frames of 4 KiB: frame 400 is in the middle of the second.
    const seq = 400;
    const at = frameOffset(headerLengthOf(ciphertext, frameLength), frameLength, seq) + 16 + 100;
    bad[at] = (bad[at] as number) ^ 1;
    const { out, err } = await run(chunked(bad, [65_536]), decryptStream({ keyring, ...PARALLEL }));
    expect(DecryptionError.is(err)).toBe(true);
    expect((err as Error).message).toContain(`frame ${seq} `);
    // Exactly the frames before it, each verified: nothing of frame 400 or of the frames after it.
    expect(out.equals(pt.subarray(0, (seq - 1) * frameLength))).toBe(true);
    expect(await noWorkersLeft()).toBe(0);
  });

  it('a truncated stream is a MessageFormatError and releases only a prefix', async () => {
    const pt = randomBytes(3 << 20);
    const { ciphertext } = await encrypt(pt, { keyring, suite: 0x0578 });
    for (const cut of [ciphertext.length - 1, ciphertext.length - 200, 2 << 20]) {
      const { out, err } = await run(
        chunked(ciphertext.subarray(0, cut), [65_536]),
        decryptStream({ keyring, ...PARALLEL }),
      );
      expect(MessageFormatError.is(err)).toBe(true);
      expect(out.length).toBeLessThan(pt.length);
      expect(out.equals(pt.subarray(0, out.length))).toBe(true);
    }
    expect(await noWorkersLeft()).toBe(0);
  });

  it('for signed suites the final frame is held back until the signature verifies (parallel)', async () => {
    const frameLength = 1024;
    const pt = randomBytes(frameLength * 2000 + 10);
    const { ciphertext } = await encrypt(pt, { keyring, suite: 0x0578, frameLength });
    const bad = Buffer.from(ciphertext);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1; // the signature only
    const { out, err } = await run(chunked(bad, [65_536]), decryptStream({ keyring, ...PARALLEL }));
    expect(DecryptionError.is(err)).toBe(true);
    expect((err as Error).message).toContain('signature');
    // Every regular frame verified and was released; the final frame's 10 bytes were not.
    expect(out.equals(pt.subarray(0, frameLength * 2000))).toBe(true);
  });

  it('aborting mid-stream leaves no worker running', async () => {
    const ac = new AbortController();
    const block = randomBytes(1 << 16);
    let sent = 0;
    const source = new Readable({
      read() {
        sent += block.length;
        this.push(block); // endless: only the abort ends it
      },
    });
    const enc = encryptStream({ keyring, suite: 0x0578, signal: ac.signal, ...PARALLEL });
    const dec = decryptStream({ keyring, signal: ac.signal, ...PARALLEL });
    let seenWorkers = 0;
    let received = 0;
    const done = pipeline(
      source,
      enc,
      dec,
      new Writable({
        write(c: Buffer, _e, cb) {
          received += c.length;
          seenWorkers = Math.max(seenWorkers, liveFrameWorkers());
          if (received > 8 << 20) ac.abort();
          cb();
        },
      }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    const err = await done;
    expect((err as Error).name).toBe('AbortError');
    expect(seenWorkers).toBe(2); // one for the encrypt stream, one for the decrypt stream
    expect(sent).toBeGreaterThan(8 << 20);
    expect(await noWorkersLeft()).toBe(0);
  });

  it('threads are off unless asked for, and bad values are refused', async () => {
    const pt = randomBytes(6 << 20);
    let seenWorkers = 0;
    await pipeline(
      chunked(pt, [1 << 20]),
      encryptStream({ keyring, suite: 0x0478 }),
      decryptStream({ keyring }),
      new Writable({
        write: (_c, _e, cb) => ((seenWorkers = Math.max(seenWorkers, liveFrameWorkers())), cb()),
      }),
    );
    expect(seenWorkers).toBe(0);
    expect(() => encryptStream({ keyring, threads: -1 })).toThrow(/threads/);
    expect(() => decryptStream({ keyring, threads: 1.5 })).toThrow(/threads/);
    expect(() => decryptStream({ keyring, parallelAfterBytes: -1 })).toThrow(/parallelAfterBytes/);
  });
});
