/**
 * The streams (encryptStream.ts, decryptStream.ts, streamFramedBody.ts) against client-apis/encrypt.md and
 * client-apis/decrypt.md: each test is named with the MUST sentence quoted above the code. The decrypt
 * stream has two body paths: frames small enough to batch go through FramedBodyReader
 * (streamFramedBody.ts); larger frames and non-framed bodies are handled frame by frame in
 * decryptStream.ts. Each quote is tested on its own path.
 */
import { randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError, MessageFormatError } from '../errors.js';
import { PUBLIC_KEY_CONTEXT_KEY } from '../format/encryptionContext.js';
import { parseHeader } from '../format/header.js';
import { framesPerBatch } from '../internal/parallelFrames.js';
import { forge, keyring, open, publicKeyOf, signingPair, streamDecrypt } from '../spec.testkit.js';
import { encryptStream } from './encryptStream.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Decrypts `msg` in two writes, the body (up to `end`) and then the footer, and records what the
 * consumer had received once the body's regular frames (`regular` bytes) were out and the stream had
 * had time to release more.
 */
async function twoStages(
  msg: Buffer,
  end: number,
  regular: number,
): Promise<{ before: Buffer; after: Buffer; error: unknown }> {
  const out: Buffer[] = [];
  let before = Buffer.alloc(0);
  const received = (): number => out.reduce((n, b) => n + b.length, 0);
  async function* source(): AsyncGenerator<Buffer> {
    yield msg.subarray(0, end);
    for (let i = 0; i < 200 && received() < regular; i++) await tick(5);
    await tick(30);
    before = Buffer.concat(out);
    yield msg.subarray(end);
  }
  const { out: after, error } = await streamDecrypt(source(), { keyring }, out);
  return { before, after, error };
}

/** A signed message, its body end, and the same message with a flipped signature byte. */
async function signedPair(
  pt: Buffer,
  frameLength: number,
): Promise<{ good: Buffer; bad: Buffer; end: number }> {
  const r = await encrypt(pt, { keyring, suite: 0x0578, frameLength });
  const { end } = open(r.ciphertext, r.encryptionContext);
  const bad = Buffer.from(r.ciphertext);
  bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 1;
  return { good: r.ciphertext, bad, end };
}

async function expectHeldBack(good: Buffer, bad: Buffer, end: number, pt: Buffer, regular: number) {
  // Valid signature: the final frame arrives only after the footer has.
  const ok = await twoStages(good, end, regular);
  expect(ok.error).toBeUndefined();
  expect(ok.before.equals(pt.subarray(0, regular))).toBe(true);
  expect(ok.after.equals(pt)).toBe(true);
  // Bad signature: the regular frames were released (their tags verified); nothing of the final frame
  // ever is.
  const no = await twoStages(bad, end, regular);
  expect(DecryptionError.is(no.error)).toBe(true);
  expect(no.before.equals(pt.subarray(0, regular))).toBe(true);
  expect(no.after.equals(pt.subarray(0, regular))).toBe(true);
}

describe('decrypt.md#decrypt-the-message-body, frame by frame (decryptStream.ts)', () => {
  it('Any plaintext decrypted from unframed data or a final frame MUST NOT be released until signature verification successfully completes.', async () => {
    // Frames too large to batch: this path, not FramedBodyReader.
    const frameLength = 600_000;
    expect(framesPerBatch(frameLength)).toBe(1);
    const pt = randomBytes(2 * frameLength + 1000);
    const { good, bad, end } = await signedPair(pt, frameLength);
    await expectHeldBack(good, bad, end, pt, 2 * frameLength);
    // Non-framed data: all of it is held back.
    const signer = signingPair();
    const small = randomBytes(5000);
    const nonFramed = await forge({
      suiteId: 0x0578,
      plaintext: small,
      contentType: 1,
      signingKey: signer.privateKey,
      context: { [PUBLIC_KEY_CONTEXT_KEY]: signer.publicKey },
    });
    const bodyEnd = (parseHeader(nonFramed)?.length as number) + 12 + 8 + small.length + 16;
    const badNonFramed = Buffer.from(nonFramed);
    badNonFramed[badNonFramed.length - 2] = (badNonFramed[badNonFramed.length - 2] as number) ^ 1;
    await expectHeldBack(nonFramed, badNonFramed, bodyEnd, small, 0);
  });
});

describe('decrypt.md#decrypt-the-message-body, in batches (streamFramedBody.ts)', () => {
  it('Any plaintext decrypted from unframed data or a final frame MUST NOT be released until signature verification successfully completes.', async () => {
    const pt = randomBytes(3 * 64 + 10);
    const { good, bad, end } = await signedPair(pt, 64);
    await expectHeldBack(good, bad, end, pt, 3 * 64);
  });

  it('Otherwise, this value MUST be 1 greater than the value of the sequence number of the previous frame.', async () => {
    const pt = randomBytes(16 * 6 + 3);
    const { ciphertext: ct } = await encrypt(pt, { keyring, suite: 0x0478, frameLength: 16 });
    const { frames } = open(ct, {});
    const f = (i: number) => frames[i] as (typeof frames)[0];
    const seg = (i: number): Buffer => ct.subarray(f(i).start, f(i).end);
    const final = frames.at(-1) as (typeof frames)[0];
    const finalSeq = Buffer.from(ct);
    finalSeq.writeUInt32BE(final.seq - 1, final.start + 4);
    const bad = [
      Buffer.concat([ct.subarray(0, f(0).end), seg(0), ct.subarray(f(0).end)]), // 1, 1, ...
      Buffer.concat([ct.subarray(0, f(1).start), seg(2), seg(1), ct.subarray(f(2).end)]), // 1, 3, 2
      Buffer.concat([ct.subarray(0, f(3).start), ct.subarray(f(3).end)]), // 1, 2, 3, 5
      finalSeq,
    ];
    for (const m of bad) {
      for (const chunks of [[m], [...m].map((b) => Buffer.from([b]))]) {
        const s = await streamDecrypt(chunks, { keyring });
        expect(MessageFormatError.is(s.error)).toBe(true);
        expect((s.error as Error).message).toMatch(/sequence number/);
      }
    }
    expect((await streamDecrypt([ct], { keyring })).out.equals(pt)).toBe(true);
  });
});

/**
 * Runs an encrypt stream fed `parts` (not ended until `beforeEnd` resolved), overwriting every output
 * chunk with zeros right after copying it: the stream cannot keep them to sign at the end.
 */
async function encryptScrubbing(
  parts: Buffer[],
  beforeEnd: (copies: Buffer[]) => Promise<void>,
): Promise<{ copies: Buffer[]; context: Record<string, string> }> {
  const e = encryptStream({
    keyring,
    suite: 0x0578,
    frameLength: 64,
    encryptionContext: { a: 'b' },
  });
  const copies: Buffer[] = [];
  e.on('data', (c: Buffer) => {
    copies.push(Buffer.from(c));
    c.fill(0);
  });
  const ended = new Promise<void>((resolve, reject) => {
    e.on('end', resolve);
    e.on('error', reject);
  });
  for (const p of parts) e.write(p);
  await beforeEnd(copies);
  e.end();
  await ended;
  const parsed = parseHeader(Buffer.concat(copies));
  return { copies, context: { ...parsed?.header.encryptionContext } };
}

/** The signature of a streamed message verifies over header and body with the context's public key. */
function signatureVerifies(msg: Buffer, context: Record<string, string>): boolean {
  const { end } = open(msg, context);
  const key = publicKeyOf(context[PUBLIC_KEY_CONTEXT_KEY] as string);
  return verify('sha384', msg.subarray(0, end), { key, dsaEncoding: 'der' }, msg.subarray(end + 2));
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await tick(5);
  expect(cond()).toBe(true);
}

describe('encrypt.md (streaming)', () => {
  it("If the algorithm suite contains a signature algorithm and this operation is streaming the encrypted message output to the caller, this operation MUST input the serialized header to the signature algorithm as soon as it is serialized, such that the serialized header isn't required to remain in memory to construct the signature.", async () => {
    const pt = randomBytes(10);
    const { copies, context } = await encryptScrubbing([pt], async (copies) => {
      // The header is out before the plaintext has ended, and its bytes are gone from the stream's
      // buffers (zeroed) before the signature is made.
      await until(() => copies.length > 0);
      const header = Buffer.concat(copies);
      expect(parseHeader(header)?.length).toBe(header.length);
    });
    const msg = Buffer.concat(copies);
    expect(signatureVerifies(msg, context)).toBe(true);
    expect((await decrypt(msg, { keyring })).plaintext.equals(pt)).toBe(true);
  });

  it("If the algorithm suite contains a signature algorithm and this operation is streaming the encrypted message output to the caller, this operation MUST input the serialized frame to the signature algorithm as soon as it is serialized, such that the serialized frame isn't required to remain in memory to construct the signature.", async () => {
    const pt = randomBytes(5 * 64 + 7);
    const parts = [pt.subarray(0, 100), pt.subarray(100, 250), pt.subarray(250)];
    let headerLength = 0;
    const { copies, context } = await encryptScrubbing(parts, async (copies) => {
      // Five regular frames (a partial sixth follows them) are out before the plaintext has ended.
      await until(() => {
        const out = Buffer.concat(copies);
        headerLength = parseHeader(out)?.length ?? 0;
        return headerLength > 0 && out.length >= headerLength + 5 * (4 + 12 + 64 + 16);
      });
    });
    const msg = Buffer.concat(copies);
    const { frames } = open(msg, context);
    expect(frames.length).toBe(6);
    expect(signatureVerifies(msg, context)).toBe(true);
    expect((await decrypt(msg, { keyring })).plaintext.equals(pt)).toBe(true);
  });
});
