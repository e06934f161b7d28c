import { sign } from 'node:crypto';
import {
  framedBodySize,
  frameCounts,
  writeFinalFrameHeader,
  writeFrameHeader,
} from './format/body.js';
import type { EncryptionContext } from './format/encryptionContext.js';
import {
  maxFooterLength,
  resolveEncrypt,
  startEncryptWith,
  type ResolvedEncrypt,
  type EncryptOptionsBase,
  type PreparedEncrypt,
} from './internal/EncryptSession.js';
import { toBytes } from './internal/options.js';
import {
  DefaultMaterialsManager,
  type EncryptionMaterialsResult,
} from './materials/DefaultMaterialsManager.js';

/** Options of {@link encrypt}. */
export type EncryptOptions = EncryptOptionsBase;

/** What {@link encrypt} returns. */
export interface EncryptResult {
  /** The whole message in the AWS Encryption SDK format. */
  readonly ciphertext: Buffer;
  /** The encryption context the message carries (yours plus `aws-crypto-public-key` for signed suites). */
  readonly encryptionContext: EncryptionContext;
  /** The suite the message was written with. */
  readonly suiteId: number;
  /** The message ID (32 bytes). */
  readonly messageId: Buffer;
}

/**
 * Encrypts a buffer or string (UTF-8) into one AWS Encryption SDK message, which any ESDK decrypts.
 *
 * The message is written into a single allocation sized up front (header, frames, footer), one AES-GCM
 * cipher per frame; use {@link encryptStream} for data that does not fit comfortably in memory.
 */
export function encrypt(
  plaintext: Uint8Array | string,
  options: EncryptOptions,
): Promise<EncryptResult> {
  let pt: Buffer;
  let r: ResolvedEncrypt;
  try {
    pt = toBytes(plaintext, 'utf8');
    r = resolveEncrypt(options, pt.length);
    // Default manager and raw AES keyring: no promise until the result (each costs on a small message).
    const s =
      r.manager instanceof DefaultMaterialsManager ? r.manager.encryptSync(r.request) : undefined;
    if (s !== undefined) {
      return Promise.resolve(
        encryptPrepared(pt, {
          ...prepared(r, s.materials),
          serializedContext: s.serializedContext,
        }),
      );
    }
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
  return r.manager
    .getEncryptionMaterials(r.request)
    .then((m) => encryptPrepared(pt, prepared(r, m)));
}

function prepared(r: ResolvedEncrypt, materials: EncryptionMaterialsResult): PreparedEncrypt {
  return { materials, frameLength: r.frameLength, maxEdks: r.maxEdks };
}

/** The CPU-bound part of {@link encrypt}, from prepared materials. @internal */
export function encryptPrepared(pt: Buffer, prepared: PreparedEncrypt): EncryptResult {
  const s = startEncryptWith(
    prepared,
    ({ suite, frameLength }) => framedBodySize(pt.length, frameLength) + maxFooterLength(suite),
  );
  const { frames, frameLength, buffer: out } = s;
  try {
    let o = s.headerLength;
    const { regular, finalLength } = frameCounts(pt.length, frameLength);
    let p = 0;
    let seq = 1;
    //= aws-encryption-sdk-specification/client-apis/encrypt.md#construct-a-frame
    //# For a regular frame the length of this plaintext MUST equal the frame length.
    //= aws-encryption-sdk-specification/client-apis/encrypt.md#construct-a-frame
    //# For a regular frame the length of this plaintext subsequence MUST equal the frame length.
    for (; seq <= regular; seq++) {
      o = writeFrameHeader(out, o, seq, frames.iv(seq));
      o = frames.encryptInto(0, seq, pt.subarray(p, p + frameLength), out, o);
      p += frameLength;
    }
    o = writeFinalFrameHeader(out, o, seq, frames.iv(seq), finalLength);
    o = frames.encryptInto(1, seq, pt.subarray(p, p + finalLength), out, o);
    if (s.signingKey && s.suite.signature) {
      //= aws-encryption-sdk-specification/client-apis/encrypt.md#construct-the-signature
      //# To calculate a signature, this operation MUST use the signature algorithm specified by the
      //# algorithm suite, with the following input:
      //# - the signature key is the signing key in the encryption materials
      //# - the input to sign is the concatenation of the serialization of the message header and
      //# message body
      const sig = sign(s.suite.signature.hash, out.subarray(0, o), {
        key: s.signingKey,
        dsaEncoding: 'der',
      });
      o = out.writeUInt16BE(sig.length, o);
      o += sig.copy(out, o);
    }
    return {
      ciphertext: out.subarray(0, o),
      encryptionContext: s.encryptionContext,
      suiteId: s.suite.id,
      messageId: s.messageId,
    };
  } finally {
    frames.destroy();
  }
}
