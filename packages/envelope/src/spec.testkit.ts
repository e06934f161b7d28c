// Shared by the envelope specification tests (*.spec.test.ts); not part of the package build.
//
// An independent reader and writer of the message format, written from the specification with
// node:crypto only (hkdfSync, AES-GCM, ECDSA): the spec tests check what the package writes against it,
// and feed the package messages it forges, so a test does not pass merely because the package agrees
// with itself.
import {
  ECDH,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseHeader, type EncryptedDataKey, type ParsedHeader } from './format/header.js';
import { RawAesKeyring } from './keyrings/RawAesKeyring.js';
import type { Keyring } from './keyrings/types.js';
import { decryptStream, type DecryptStreamOptions } from './stream/decryptStream.js';
import { getSuite, type AlgorithmSuite } from './suites.js';

export { rejection } from './keyrings/keyrings.testkit.js';

export const wrappingKey = Buffer.alloc(32, 0x5a);
/** The keyring every spec test encrypts and decrypts with. */
export const keyring = new RawAesKeyring({ keyNamespace: 'ns', keyName: 'spec', wrappingKey });

export function suite(id: number): AlgorithmSuite {
  const s = getSuite(id);
  if (!s) throw new Error(`no suite 0x${id.toString(16)}`);
  return s;
}

export const u8 = (n: number): Buffer => Buffer.from([n]);
export const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

/** structures.md key-value pairs: count, then (length, key, length, value) sorted by UTF-8 key bytes. */
export function contextBytes(ctx: Readonly<Record<string, string>>): Buffer {
  const pairs = Object.entries(ctx).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
  if (pairs.length === 0) return Buffer.alloc(0);
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  return Buffer.concat([
    u16(pairs.length),
    ...pairs.flatMap(([k, v]) => [u16(k.length), k, u16(v.length), v]),
  ]);
}

/** The fields of a header body, each settable to an invalid value. */
export interface HeaderSpec {
  readonly version: number;
  readonly type?: number;
  readonly suiteId: number;
  readonly messageId: Buffer;
  readonly context?: Buffer;
  readonly edks: readonly EncryptedDataKey[];
  /** Written instead of `edks.length`. */
  readonly edkCount?: number;
  readonly contentType: number;
  readonly reserved?: number;
  readonly ivLength?: number;
  readonly frameLength: number;
  readonly suiteData?: Buffer | undefined;
}

/** message-header.md: the header body, v1 or v2 by `version`. */
export function headerBody(h: HeaderSpec): Buffer {
  const ctx = h.context ?? Buffer.alloc(0);
  const parts: Buffer[] = [u8(h.version)];
  if (h.version === 1) parts.push(u8(h.type ?? 0x80));
  parts.push(u16(h.suiteId), h.messageId, u16(ctx.length), ctx, u16(h.edkCount ?? h.edks.length));
  for (const e of h.edks) {
    const id = Buffer.from(e.providerId);
    parts.push(u16(id.length), id, u16(e.providerInfo.length), e.providerInfo);
    parts.push(u16(e.encryptedDataKey.length), e.encryptedDataKey);
  }
  parts.push(u8(h.contentType));
  if (h.version === 1) parts.push(u32(h.reserved ?? 0), u8(h.ivLength ?? 12));
  parts.push(u32(h.frameLength));
  if (h.version !== 1) parts.push(h.suiteData ?? Buffer.alloc(0));
  return Buffer.concat(parts);
}

function hkdf(hash: string, ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync(hash, ikm, salt, info, length));
}

/** algorithm-suites.md / transitive-requirements.md: the content key and the commit key, via hkdfSync. */
export function keysFor(
  s: AlgorithmSuite,
  dataKey: Buffer,
  messageId: Buffer,
): { key: Buffer; commitKey: Buffer | undefined } {
  const id = u16(s.id);
  if (s.kdfHash === undefined) return { key: Buffer.from(dataKey), commitKey: undefined };
  if (!s.committing) {
    const info = Buffer.concat([id, messageId]);
    return {
      key: hkdf(s.kdfHash, dataKey, Buffer.alloc(0), info, s.keyLength),
      commitKey: undefined,
    };
  }
  return {
    key: hkdf('sha512', dataKey, messageId, Buffer.concat([id, Buffer.from('DERIVEKEY')]), 32),
    commitKey: hkdf('sha512', dataKey, messageId, Buffer.from('COMMITKEY'), 32),
  };
}

/** The plaintext data key in a raw AES EDK of {@link keyring} (raw-aes-keyring.md), by hand. */
export function unwrap(
  edk: EncryptedDataKey,
  fullContext: Readonly<Record<string, string>>,
): Buffer {
  const iv = edk.providerInfo.subarray(edk.providerInfo.length - 12);
  const n = edk.encryptedDataKey.length - 16;
  const d = createDecipheriv('aes-256-gcm', wrappingKey, iv);
  d.setAAD(contextBytes(fullContext));
  d.setAuthTag(edk.encryptedDataKey.subarray(n));
  return Buffer.concat([d.update(edk.encryptedDataKey.subarray(0, n)), d.final()]);
}

/** AES-GCM with the tag appended. */
export function seal(s: AlgorithmSuite, key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer): Buffer {
  const c = createCipheriv(s.cipher, key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

/** message-body-aad.md: message ID, content string, sequence number, content length. */
export function bodyAad(messageId: Buffer, content: string, seq: number, length: number): Buffer {
  return Buffer.concat([messageId, Buffer.from(content), u32(seq), u64(length)]);
}

export function frameIv(seq: number): Buffer {
  return Buffer.concat([Buffer.alloc(8), u32(seq)]);
}

/** One frame of a framed body, read by hand (message-body.md). */
export interface Frame {
  readonly final: boolean;
  readonly seq: number;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
  readonly start: number;
  readonly end: number;
}

/** The frames of a framed body starting at `offset`, and where the body ends. */
export function readFrames(
  msg: Buffer,
  offset: number,
  frameLength: number,
): { frames: Frame[]; end: number } {
  const frames: Frame[] = [];
  let o = offset;
  for (;;) {
    const start = o;
    const marker = msg.readUInt32BE(o);
    const final = marker === 0xffffffff;
    const seq = final ? msg.readUInt32BE(o + 4) : marker;
    o += final ? 8 : 4;
    const iv = msg.subarray(o, o + 12);
    o += 12;
    const len = final ? msg.readUInt32BE(o) : frameLength;
    if (final) o += 4;
    const ciphertext = msg.subarray(o, o + len);
    const tag = msg.subarray(o + len, o + len + 16);
    o += len + 16;
    frames.push({ final, seq, iv, ciphertext, tag, start, end: o });
    if (final) return { frames, end: o };
  }
}

/** An ECDSA key pair made without the package, and its public key as the context stores it. */
export function signingPair(curve: 'secp384r1' | 'prime256v1' = 'secp384r1'): {
  privateKey: KeyObject;
  publicKey: string;
} {
  const ecdh = createECDH(curve);
  ecdh.generateKeys();
  const jwk = jwkOf(curve, ecdh.getPublicKey());
  const privateKey = createPrivateKey({
    key: { ...jwk, d: ecdh.getPrivateKey().toString('base64url') },
    format: 'jwk',
  });
  return { privateKey, publicKey: ecdh.getPublicKey('base64', 'compressed') };
}

/** The verification key from the base64 compressed point under `aws-crypto-public-key`. */
export function publicKeyOf(compressed: string, curve = 'secp384r1'): KeyObject {
  const point = ECDH.convertKey(compressed, curve, 'base64', undefined, 'uncompressed') as Buffer;
  return createPublicKey({ key: jwkOf(curve, point), format: 'jwk' });
}

function jwkOf(curve: string, point: Buffer): { kty: 'EC'; crv: string; x: string; y: string } {
  const n = (point.length - 1) / 2;
  return {
    kty: 'EC',
    crv: curve === 'secp384r1' ? 'P-384' : 'P-256',
    x: point.subarray(1, 1 + n).toString('base64url'),
    y: point.subarray(1 + n).toString('base64url'),
  };
}

/** What {@link forge} writes; every default is a valid message. */
export interface ForgeOptions {
  readonly suiteId: number;
  readonly plaintext: Buffer;
  /** Framed (2, the default) or non-framed (1). */
  readonly contentType?: 1 | 2;
  readonly frameLength?: number;
  /** The encryption context stored in the header. */
  readonly context?: Readonly<Record<string, string>>;
  /** Pairs authenticated by the header tag but not stored. */
  readonly authOnly?: Readonly<Record<string, string>>;
  /** Pairs the header tag is computed over instead of `authOnly` (the data key is still wrapped under `authOnly`). */
  readonly tagAuthOnly?: Readonly<Record<string, string>>;
  /** Suite data written instead of the commit key. */
  readonly suiteData?: Buffer;
  /** Body AAD content strings written instead of the specification's. */
  readonly content?: { frame?: string; final?: string; single?: string };
  /** Signing key of a signed suite (its public key must be in `context`). */
  readonly signingKey?: KeyObject;
}

/**
 * A whole message written by hand from the specification, with a data key the raw AES {@link keyring}
 * wraps (the only thing the package does here, through its public keyring API).
 */
export async function forge(o: ForgeOptions): Promise<Buffer> {
  const s = suite(o.suiteId);
  const context = o.context ?? {};
  const full = { ...context, ...o.authOnly };
  const dataKey = Buffer.alloc(s.keyLength, 0x11);
  const m = await keyring.onEncrypt({
    suite: s,
    encryptionContext: full,
    serializedContext: contextBytes(full),
    plaintextDataKey: Buffer.from(dataKey),
    encryptedDataKeys: [],
  });
  const messageId = Buffer.alloc(s.messageFormat === 2 ? 32 : 16, 0x42);
  const { key, commitKey } = keysFor(s, dataKey, messageId);
  const contentType = o.contentType ?? 2;
  const frameLength = contentType === 1 ? 0 : (o.frameLength ?? 64);
  const body = headerBody({
    version: s.messageFormat,
    suiteId: s.id,
    messageId,
    context: contextBytes(context),
    edks: m.encryptedDataKeys,
    contentType,
    frameLength,
    suiteData: o.suiteData ?? commitKey,
  });
  const headerIv = s.messageFormat === 1 ? Buffer.alloc(12, 0x01) : Buffer.alloc(12);
  const headerAad = Buffer.concat([body, contextBytes(o.tagAuthOnly ?? o.authOnly ?? {})]);
  const parts: Buffer[] = [body];
  if (s.messageFormat === 1) parts.push(headerIv);
  parts.push(seal(s, key, headerIv, headerAad, Buffer.alloc(0)));
  const pt = o.plaintext;
  if (contentType === 1) {
    const iv = frameIv(1);
    const aad = bodyAad(messageId, o.content?.single ?? SINGLE, 1, pt.length);
    parts.push(iv, u64(pt.length), seal(s, key, iv, aad, pt));
  } else {
    let seq = 1;
    let p = 0;
    for (; pt.length - p > frameLength; seq++, p += frameLength) {
      const chunk = pt.subarray(p, p + frameLength);
      const aad = bodyAad(messageId, o.content?.frame ?? FRAME, seq, chunk.length);
      parts.push(u32(seq), frameIv(seq), seal(s, key, frameIv(seq), aad, chunk));
    }
    const last = pt.subarray(p);
    const aad = bodyAad(messageId, o.content?.final ?? FINAL, seq, last.length);
    parts.push(u32(0xffffffff), u32(seq), frameIv(seq), u32(last.length));
    parts.push(seal(s, key, frameIv(seq), aad, last));
  }
  if (s.signature) {
    if (!o.signingKey) throw new Error('a signed suite needs signingKey');
    const sig = sign(s.signature.hash, Buffer.concat(parts), {
      key: o.signingKey,
      dsaEncoding: 'der',
    });
    parts.push(u16(sig.length), sig);
  }
  return Buffer.concat(parts);
}

export const FRAME = 'AWSKMSEncryptionClient Frame';
export const FINAL = 'AWSKMSEncryptionClient Final Frame';
export const SINGLE = 'AWSKMSEncryptionClient Single Block';

/** Opens a framed message of {@link keyring} by hand: every frame decrypted with the specification's AAD. */
export function open(
  msg: Buffer,
  fullContext: Readonly<Record<string, string>>,
): {
  parsed: ParsedHeader;
  dataKey: Buffer;
  key: Buffer;
  commitKey: Buffer | undefined;
  frames: Frame[];
  plaintext: Buffer;
  /** Where the body ends (the footer, if any, starts). */
  end: number;
} {
  const parsed = parseHeader(msg);
  if (!parsed) throw new Error('truncated header');
  const { header } = parsed;
  const s = header.suite;
  const dataKey = unwrap(header.encryptedDataKeys[0] as EncryptedDataKey, fullContext);
  const { key, commitKey } = keysFor(s, dataKey, header.messageId);
  const { frames, end } = readFrames(msg, parsed.length, header.frameLength);
  const plaintext = Buffer.concat(
    frames.map((f) => {
      const aad = bodyAad(header.messageId, f.final ? FINAL : FRAME, f.seq, f.ciphertext.length);
      const d = createDecipheriv(s.cipher, key, f.iv);
      d.setAAD(aad);
      d.setAuthTag(f.tag);
      return Buffer.concat([d.update(f.ciphertext), d.final()]);
    }),
  );
  return { parsed, dataKey, key, commitKey, frames, plaintext, end };
}

/** {@link keyring}, counting the calls that would unwrap a data key. */
export function countingKeyring(): { keyring: Keyring; decrypts: () => number } {
  let n = 0;
  return {
    keyring: {
      onEncrypt: (m) => keyring.onEncrypt(m),
      onDecrypt: (m, edks) => {
        n++;
        return keyring.onDecrypt(m, edks);
      },
    },
    decrypts: () => n,
  };
}

/**
 * Runs `input` through a decrypt stream: what reached the consumer, the error, and whether `'header'` fired.
 * Each chunk the consumer receives is also copied into `out` as it arrives, for a caller that watches it.
 */
export async function streamDecrypt(
  input: Iterable<Buffer> | AsyncIterable<Buffer>,
  options: DecryptStreamOptions,
  out: Buffer[] = [],
): Promise<{ out: Buffer; error: unknown; header: boolean }> {
  const d = decryptStream(options);
  let header = false;
  d.on('header', () => (header = true));
  const error = await pipeline(
    Readable.from(input),
    d,
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(Buffer.from(c));
        cb();
      },
    }),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { out: Buffer.concat(out), error, header };
}

/** The error `stream` emits, failing after `ms` milliseconds instead of waiting for the test timeout. */
export function streamError(stream: NodeJS.EventEmitter, ms = 2000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no error within ${ms} ms`)), ms);
    stream.once('error', (e: unknown) => {
      clearTimeout(t);
      resolve(e);
    });
  });
}
