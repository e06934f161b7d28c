import { verify } from 'node:crypto';
import { SteadyKmsError } from '@steadykms/core';
import { parseHeader, type MessageHeader, type ParsedHeader } from './format/header.js';
import type { DecryptionMaterialsResult } from './materials/DefaultMaterialsManager.js';
import { parseFooter, parseFrame, parseNonFramedBody } from './format/body.js';
import type { EncryptionContext } from './format/encryptionContext.js';
import { DecryptionError, formatError } from './errors.js';
import {
  DecryptSession,
  badSignature,
  resolveDecrypt,
  type DecryptOptionsBase,
  type ResolvedDecrypt,
} from './internal/DecryptSession.js';
import { toBytes } from './internal/options.js';

/** Options of {@link decrypt}. */
export type DecryptOptions = DecryptOptionsBase;

/** What {@link decrypt} returns. */
export interface DecryptResult {
  readonly plaintext: Buffer;
  /** The message's encryption context (stored pairs plus any authenticate-only pairs you supplied). */
  readonly encryptionContext: EncryptionContext;
  readonly suiteId: number;
  /** The parsed header. */
  readonly messageHeader: MessageHeader;
}

/**
 * Decrypts one whole AWS Encryption SDK message (a string is read as base64). Nothing is returned unless
 * every tag, the key commitment and (for signed suites) the signature verify and no byte follows the
 * message. Errors are `MessageFormatError` (malformed) or `DecryptionError` (does not authenticate).
 */
export function decrypt(
  ciphertext: Uint8Array | string,
  options: DecryptOptions,
): Promise<DecryptResult> {
  let buf: Buffer;
  let parsed: ParsedHeader;
  let o: ResolvedDecrypt;
  let m: DecryptionMaterialsResult | undefined;
  try {
    o = resolveDecrypt(options);
    buf = toBytes(ciphertext, 'base64');
    const p = parseHeader(buf, 0, o.maxEdks);
    if (!p) throw formatError('message is truncated in the header');
    parsed = p;
  } catch (e) {
    return Promise.reject(asError(e));
  }
  try {
    // Raw AES keyring, unsigned suite: no promise until the result (each one costs on a small message).
    m = DecryptSession.materialsSync(parsed, o);
  } catch (e) {
    return Promise.reject(asError(wrapUnexpected(e)));
  }
  if (m !== undefined) {
    try {
      return Promise.resolve(decryptParsed(buf, parsed, m));
    } catch (e) {
      return Promise.reject(asError(e));
    }
  }
  return DecryptSession.materials(parsed, o).then(
    (materials) => decryptParsed(buf, parsed, materials),
    (e: unknown) => {
      throw wrapUnexpected(e);
    },
  );
}

/** The CPU-bound part of {@link decrypt}, from the parsed header and the materials. @internal */
export function decryptParsed(
  buf: Buffer,
  parsed: ParsedHeader,
  m: DecryptionMaterialsResult,
): DecryptResult {
  let s: DecryptSession;
  try {
    s = DecryptSession.fromMaterials(parsed, m);
  } catch (e) {
    throw wrapUnexpected(e);
  }
  const parts: Buffer[] = [];
  let total = 0;
  try {
    const { header } = s;
    let off = parsed.length;
    if (header.contentType === 2) {
      for (;;) {
        const f = parseFrame(buf, off, header.frameLength);
        if (!f) throw formatError('message is truncated in the body');
        const pt = s.decryptFrame(f);
        parts.push(pt);
        total += pt.length;
        off += f.length;
        if (f.final) break;
      }
    } else {
      const f = parseNonFramedBody(buf, off);
      if (!f) throw formatError('message is truncated in the body');
      const pt = s.decryptFrame(f);
      parts.push(pt);
      total += pt.length;
      off += f.length;
    }
    const sig = header.suite.signature;
    if (sig) {
      const footer = parseFooter(buf, off);
      if (!footer) throw formatError('message is truncated in the footer');
      if (
        !s.verificationKey ||
        !verify(
          sig.hash,
          buf.subarray(0, off),
          { key: s.verificationKey, dsaEncoding: 'der' },
          footer.signature,
        )
      ) {
        throw badSignature();
      }
      off += footer.length;
    }
    //= aws-encryption-sdk-specification/client-apis/decrypt.md#behavior
    //# If this operation successfully completes the above steps but there are consumable bytes which are intended to be decrypted, this operation MUST fail.
    if (off !== buf.length) throw formatError('bytes follow the end of the message');
    const plaintext = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
    if (parts.length > 1) for (const p of parts) p.fill(0);
    return {
      plaintext,
      encryptionContext: s.encryptionContext,
      suiteId: header.suite.id,
      messageHeader: header,
    };
  } catch (e) {
    for (const p of parts) p.fill(0);
    throw wrapUnexpected(e);
  } finally {
    s.destroy();
  }
}

/** A rejection reason that is an Error, as the async function this replaced would have produced. */
function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** @internal Any non-steadykms error inside decrypt becomes a DecryptionError (the cause is kept). */
export function wrapUnexpected(e: unknown): unknown {
  if (SteadyKmsError.is(e)) return e;
  return new DecryptionError('decryption failed', { cause: e });
}
