/**
 * header.ts against data-format/message-header.md and client-apis/decrypt.md#parse-the-header: each test
 * is named with the MUST sentence quoted above the code. Headers are written byte by byte by hand
 * (spec.testkit.ts) with one field made invalid at a time, and what the serialiser writes is compared with
 * the same hand-written bytes.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MessageFormatError } from '../errors.js';
import { decryptStream } from '../stream/decryptStream.js';
import { allSuites } from '../suites.js';
import {
  contextBytes,
  headerBody,
  keyring,
  streamError,
  suite,
  type HeaderSpec,
} from '../spec.testkit.js';
import { serializeEncryptionContext } from './encryptionContext.js';
import {
  parseHeader,
  serializeHeaderBody,
  type EncryptedDataKey,
  type ParsedHeader,
} from './header.js';

const edk = (i = 0): EncryptedDataKey => ({
  providerId: 'ns',
  providerInfo: Buffer.from(`info-${i}`),
  encryptedDataKey: Buffer.alloc(40, i),
});
const context = { purpose: 'header spec' };
const V1: HeaderSpec = {
  version: 1,
  suiteId: 0x0178,
  messageId: Buffer.alloc(16, 0x31),
  context: contextBytes(context),
  edks: [edk()],
  contentType: 2,
  frameLength: 4096,
};
const V2: HeaderSpec = {
  version: 2,
  suiteId: 0x0478,
  messageId: Buffer.alloc(32, 0x32),
  context: contextBytes(context),
  edks: [edk()],
  contentType: 2,
  frameLength: 4096,
  suiteData: Buffer.alloc(32, 0x39),
};

/** The header body plus its authentication (IV in v1, then a 16-byte tag). */
function withAuth(h: HeaderSpec): Buffer {
  return Buffer.concat([headerBody(h), Buffer.alloc(h.version === 1 ? 28 : 16, 0x07)]);
}
function parsed(h: HeaderSpec): ParsedHeader {
  const bytes = withAuth(h);
  const p = parseHeader(bytes);
  if (!p) throw new Error('needs more bytes');
  expect(p.length).toBe(bytes.length);
  return p;
}
function refused(h: HeaderSpec): void {
  expect(() => parseHeader(withAuth(h)), JSON.stringify({ ...h, edks: undefined })).toThrow(
    MessageFormatError,
  );
}
/** What the package serialises for the fields of `h`. */
function serialized(h: HeaderSpec): Buffer {
  const { buf, length } = serializeHeaderBody({
    suite: suite(h.suiteId),
    messageId: h.messageId,
    serializedContext: serializeEncryptionContext(context),
    encryptedDataKeys: h.edks,
    contentType: h.contentType as 1 | 2,
    frameLength: h.frameLength,
    ...(h.suiteData ? { suiteData: h.suiteData } : {}),
  });
  return buf.subarray(0, length);
}

describe('message-header.md', () => {
  it('The version (hex) of this field MUST be a value that exists in the following table:', () => {
    expect(parsed(V1).header.version).toBe(1);
    expect(parsed(V2).header.version).toBe(2);
    for (let v = 0; v < 256; v++) if (v !== 1 && v !== 2) refused({ ...V2, version: v });
    expect(serialized(V1)[0]).toBe(0x01);
    expect(serialized(V2)[0]).toBe(0x02);
    expect(serialized(V1).equals(headerBody(V1))).toBe(true);
    expect(serialized(V2).equals(headerBody(V2))).toBe(true);
  });

  it('The type (hex) of this field MUST be a value that exists in the following table:', () => {
    expect(parsed({ ...V1, type: 0x80 }).header.suite.id).toBe(0x0178);
    for (let t = 0; t < 256; t++) if (t !== 0x80) refused({ ...V1, type: t });
    expect(serialized(V1)[1]).toBe(0x80);
  });

  it('The value (hex) of this field MUST be a value that exists in the Supported Algorithm Suites table.', () => {
    for (const s of allSuites()) {
      const base = s.messageFormat === 1 ? V1 : V2;
      expect(parsed({ ...base, suiteId: s.id }).header.suite).toBe(s);
      expect(
        serialized({ ...base, suiteId: s.id }).readUInt16BE(s.messageFormat === 1 ? 2 : 1),
      ).toBe(s.id);
    }
    for (const id of [0x0000, 0x0015, 0x0079, 0x0179, 0x0279, 0x0479, 0x0579, 0xffff]) {
      refused({ ...V1, suiteId: id });
      refused({ ...V2, suiteId: id });
    }
  });

  it('This value MUST be greater than 0.', () => {
    expect(parsed(V2).header.encryptedDataKeys).toEqual([edk()]);
    refused({ ...V1, edks: [] });
    refused({ ...V2, edks: [] });
    // The count says 0 though a key follows: still refused.
    refused({ ...V2, edkCount: 0 });
    expect(() => serialized({ ...V2, edks: [] })).toThrow(MessageFormatError);
  });

  it('The value (hex) of this field MUST be a value that exists in the following table:', () => {
    expect(parsed({ ...V2, contentType: 2 }).header.contentType).toBe(2);
    expect(parsed({ ...V2, contentType: 1, frameLength: 0 }).header.contentType).toBe(1);
    for (let t = 0; t < 256; t++) {
      if (t === 1 || t === 2) continue;
      refused({ ...V1, contentType: t });
      refused({ ...V2, contentType: t });
    }
  });

  it('A reserved sequence of 4 bytes that MUST have the value (hex) of `00 00 00 00`.', () => {
    expect(parsed({ ...V1, reserved: 0 }).header.frameLength).toBe(4096);
    for (const r of [1, 0x100, 0x80000000, 0xffffffff]) refused({ ...V1, reserved: r });
    // Serialised: version, type, suite ID, message ID, context, EDKs, content type, then the 4 bytes.
    const s = serialized(V1);
    expect(s.subarray(s.length - 9, s.length - 5).equals(Buffer.alloc(4))).toBe(true);
  });

  it('This value MUST be equal to the IV length value of the algorithm suite specified by the Algorithm Suite ID field.', () => {
    expect(parsed({ ...V1, ivLength: 12 }).headerIv.length).toBe(12);
    for (const n of [0, 11, 13, 16, 255]) refused({ ...V1, ivLength: n });
    const s = serialized(V1);
    expect(s[s.length - 5]).toBe(12);
  });

  it('When the content type is non-framed, the value of this field MUST be 0.', () => {
    expect(parsed({ ...V1, contentType: 1, frameLength: 0 }).header.frameLength).toBe(0);
    expect(parsed({ ...V2, contentType: 1, frameLength: 0 }).header.frameLength).toBe(0);
    for (const n of [1, 4096, 0xffffffff]) {
      refused({ ...V1, contentType: 1, frameLength: n });
      refused({ ...V2, contentType: 1, frameLength: n });
    }
  });

  it('The length of the suite data field MUST be equal to the Algorithm Suite Data Length value of the algorithm suite specified by the Algorithm Suite ID field.', () => {
    for (const id of [0x0478, 0x0578]) {
      const suiteData = randomBytes(32);
      const p = parsed({ ...V2, suiteId: id, suiteData });
      expect(p.header.suiteData.equals(suiteData)).toBe(true);
      // The header body ends right after the 32 bytes; the tag comes next.
      expect(p.headerBody.equals(headerBody({ ...V2, suiteId: id, suiteData }))).toBe(true);
      expect(p.headerTag.equals(Buffer.alloc(16, 0x07))).toBe(true);
      for (const n of [0, 31, 33])
        expect(() => serialized({ ...V2, suiteId: id, suiteData: Buffer.alloc(n) })).toThrow(
          MessageFormatError,
        );
    }
    // Suites with no suite data: v1 headers carry none.
    expect(parsed(V1).header.suiteData.length).toBe(0);
    // A field one byte short leaves the tag one byte short: never a header.
    expect(parseHeader(withAuth({ ...V2, suiteData: Buffer.alloc(31) }))).toBeUndefined();
  });
});

describe('decrypt.md#parse-the-header', () => {
  it('If the number of encrypted data keys deserialized from the message header is greater than the maximum number of encrypted data keys configured in the client, then as soon as that can be determined during deserializing decrypt MUST process no more bytes and yield an error.', async () => {
    const h = { ...V2, edks: [edk(1), edk(2), edk(3)] };
    const full = withAuth(h);
    // Everything up to and including the EDK count, and not one byte of the first EDK.
    const upToCount = full.subarray(0, 1 + 2 + 32 + 2 + contextBytes(context).length + 2);
    expect(upToCount.readUInt16BE(upToCount.length - 2)).toBe(3);
    expect(parseHeader(full, 0, 3)?.header.encryptedDataKeys.length).toBe(3);
    expect(parseHeader(upToCount, 0, 3)).toBeUndefined();
    expect(() => parseHeader(upToCount, 0, 2)).toThrow(MessageFormatError);
    // The decrypt stream fails on those bytes alone: it does not wait for the rest of the header.
    const d = decryptStream({ keyring, maxEncryptedDataKeys: 2 });
    const failed = streamError(d);
    d.write(upToCount);
    expect(MessageFormatError.is(await failed)).toBe(true);
  });
});
