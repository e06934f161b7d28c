/**
 * body.ts against data-format/message-body-aad.md, data-format/message-body.md and
 * client-apis/decrypt.md#decrypt-the-message-body: each test is named with the MUST sentence quoted above
 * the code. Messages are opened or forged by hand (spec.testkit.ts).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError, MessageFormatError } from '../errors.js';
import { decryptStream } from '../stream/decryptStream.js';
import {
  FINAL,
  FRAME,
  SINGLE,
  bodyAad,
  forge,
  keyring,
  open,
  readFrames,
  rejection,
  streamError,
  u32,
} from '../spec.testkit.js';
import { parseHeader } from './header.js';
import { BodyAadContent, parseFrame, parseNonFramedBody, serializeBodyAad } from './body.js';

async function streamed(msg: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of Readable.from([msg]).pipe(decryptStream({ keyring })))
    parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('message-body-aad.md#body-aad-content', () => {
  it('Non-framed data MUST use the value `AWSKMSEncryptionClient Single Block`. The regular frames in framed data MUST use the value `AWSKMSEncryptionClient Frame`. The final frame in framed data MUST use the value `AWSKMSEncryptionClient Final Frame`.', async () => {
    expect(BodyAadContent.SINGLE_BLOCK.toString()).toBe(SINGLE);
    expect(BodyAadContent.FRAME.toString()).toBe(FRAME);
    expect(BodyAadContent.FINAL_FRAME.toString()).toBe(FINAL);
    const id = randomBytes(32);
    expect(
      serializeBodyAad(id, BodyAadContent.FRAME, 7, 4096).equals(bodyAad(id, FRAME, 7, 4096)),
    ).toBe(true);
    // What encrypt writes opens with these strings (open() decrypts every frame with them).
    const pt = randomBytes(200);
    const { ciphertext } = await encrypt(pt, { keyring, suite: 0x0478, frameLength: 64 });
    expect(open(ciphertext, {}).plaintext.equals(pt)).toBe(true);
    // What decrypt reads: forged messages with the right strings decrypt, with any other string not.
    const good = [
      await forge({ suiteId: 0x0478, plaintext: pt, frameLength: 64 }),
      await forge({ suiteId: 0x0478, plaintext: pt, contentType: 1 }),
    ];
    for (const m of good) {
      expect((await decrypt(m, { keyring })).plaintext.equals(pt)).toBe(true);
      expect((await streamed(m)).equals(pt)).toBe(true);
    }
    const bad = [
      await forge({ suiteId: 0x0478, plaintext: pt, frameLength: 64, content: { frame: FINAL } }),
      await forge({ suiteId: 0x0478, plaintext: pt, frameLength: 64, content: { final: FRAME } }),
      await forge({ suiteId: 0x0478, plaintext: pt, contentType: 1, content: { single: FINAL } }),
      await forge({ suiteId: 0x0478, plaintext: pt, contentType: 1, content: { single: FRAME } }),
    ];
    for (const m of bad) {
      expect(DecryptionError.is(await rejection(decrypt(m, { keyring })))).toBe(true);
      expect(DecryptionError.is(await rejection(streamed(m)))).toBe(true);
    }
  });
});

describe('decrypt.md#decrypt-the-message-body', () => {
  it('If deserializing a final frame, this operation MUST ensure that the length of the encrypted content field is less than or equal to the frame length deserialized in the message header.', async () => {
    // A final frame as long as the frame length is fine (a plaintext of whole frames).
    const pt = randomBytes(128);
    const msg = await forge({ suiteId: 0x0478, plaintext: pt, frameLength: 64 });
    expect((await decrypt(msg, { keyring })).plaintext.equals(pt)).toBe(true);
    const p = parseHeader(msg);
    if (!p) throw new Error('header');
    const { frames } = readFrames(msg, p.length, 64);
    const final = frames.at(-1);
    if (!final?.final) throw new Error('no final frame');
    expect(parseFrame(msg, final.start, 64)?.ciphertext.length).toBe(64);
    // Its length field raised past the frame length: refused as malformed, before any decryption and
    // without waiting for bytes that length would need.
    const longer = Buffer.from(msg);
    u32(65).copy(longer, final.start + 4 + 4 + 12);
    expect(() => parseFrame(longer, final.start, 64)).toThrow(MessageFormatError);
    expect(() => parseFrame(longer.subarray(0, final.start + 24), final.start, 64)).toThrow(
      MessageFormatError,
    );
    expect(MessageFormatError.is(await rejection(decrypt(longer, { keyring })))).toBe(true);
    expect(MessageFormatError.is(await rejection(streamed(longer)))).toBe(true);
  });
});

describe('message-body.md#encrypted-content-length', () => {
  it('The length MUST NOT be greater than `2^36 - 32`, or 64 gibibytes (64 GiB), due to restrictions imposed by the implemented algorithms.', async () => {
    const at = (n: number): Buffer => {
      const b = Buffer.alloc(12 + 8);
      b.writeBigUInt64BE(BigInt(n), 12);
      return b;
    };
    // At the limit the parser asks for the rest of the content; one byte over, it refuses at once.
    expect(parseNonFramedBody(at(2 ** 36 - 32), 0)).toBeUndefined();
    for (const n of [2 ** 36 - 31, 2 ** 40, Number.MAX_SAFE_INTEGER])
      expect(() => parseNonFramedBody(at(n), 0)).toThrow(MessageFormatError);
    // A non-framed message whose length field says 2^36 - 31: decrypt and the stream refuse it from the
    // length field alone rather than waiting for 64 GiB.
    const msg = await forge({ suiteId: 0x0478, plaintext: Buffer.from('x'), contentType: 1 });
    const p = parseHeader(msg);
    if (!p) throw new Error('header');
    const head = Buffer.from(msg.subarray(0, p.length + 20));
    head.writeBigUInt64BE(BigInt(2 ** 36 - 31), p.length + 12);
    expect(MessageFormatError.is(await rejection(decrypt(head, { keyring })))).toBe(true);
    const d = decryptStream({ keyring });
    const failed = streamError(d);
    d.write(head);
    expect(MessageFormatError.is(await failed)).toBe(true);
  });
});
