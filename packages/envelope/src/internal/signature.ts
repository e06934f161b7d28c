import {
  KeyObject,
  generateKeyPairSync,
  webcrypto,
  type ECKeyPairKeyObjectOptions,
  type JsonWebKey,
} from 'node:crypto';
import type { AlgorithmSuite } from '../suites.js';
import { decryptionError } from '../errors.js';

/** A fresh signing key and the value to store under `aws-crypto-public-key`. */
export function generateSigningKey(suite: AlgorithmSuite): {
  privateKey: KeyObject;
  publicKey: string;
} {
  const sig = suite.signature;
  if (!sig) throw new Error('suite does not sign');
  // The public key comes back already encoded as a JWK, exported inside the key generation while its job
  // is alive. Exporting it afterwards (publicKey.export) can deadlock the thread on Node 20.20: the export
  // holds the key's mutex while it allocates, and if that allocation runs a GC which finalises the
  // generation job, the job's destructor waits on the same mutex (seen in a benchmark: main thread stuck in
  // ~KeyGenJob under ExportJWKEcKey). It also skips building a public KeyObject that is never used.
  const { privateKey, publicKey: jwk } = generateKeyPairSync('ec', {
    namedCurve: sig.curve,
    publicKeyEncoding: { type: 'spki', format: 'jwk' },
  } as unknown as ECKeyPairKeyObjectOptions) as unknown as {
    privateKey: KeyObject;
    publicKey: JsonWebKey;
  };
  // Compression is only a prefix byte chosen by the parity of y: no field arithmetic is involved.
  const x = Buffer.from(jwk.x as string, 'base64url');
  const y = Buffer.from(jwk.y as string, 'base64url');
  const compressed = Buffer.allocUnsafe(1 + x.length);
  compressed[0] = ((y[y.length - 1] as number) & 1) === 1 ? 0x03 : 0x02;
  x.copy(compressed, 1);
  return { privateKey, publicKey: compressed.toString('base64') };
}

/** WebCrypto names of the curves, for the raw point import. */
const WEBCRYPTO_CURVE = { prime256v1: 'P-256', secp384r1: 'P-384' } as const;

/**
 * The verification key from the base64 compressed point stored in the encryption context. The point is
 * decoded (and decompressed) by OpenSSL through WebCrypto's raw import, which builds the key straight from
 * the point: measured 2 to 3 times cheaper than `ECDH.convertKey` followed by a DER SubjectPublicKeyInfo
 * import, whose decoder dominated everything but the verification itself. The import runs synchronously
 * inside the returned promise; there is no thread-pool hop.
 */
export async function verificationKey(suite: AlgorithmSuite, base64: string): Promise<KeyObject> {
  const sig = suite.signature;
  if (!sig) throw new Error('suite does not sign');
  const id = `${sig.curve}:${base64}`;
  const hit = verificationKeys.get(id);
  if (hit !== undefined) {
    // Most recently used last: a Map iterates in insertion order, so the first entry is the oldest.
    verificationKeys.delete(id);
    verificationKeys.set(id, hit);
    return hit;
  }
  const key = await importVerificationKey(sig.curve, base64);
  verificationKeys.set(id, key);
  if (verificationKeys.size > VERIFICATION_KEY_CACHE_SIZE)
    verificationKeys.delete(verificationKeys.keys().next().value as string);
  return key;
}

/**
 * Verification keys already imported, by curve and stored point: messages written under cached
 * materials (a caching materials manager on the encrypting side) share one signing key for up to
 * `maxMessages` messages, and importing the point costs OpenSSL about as much as a fifth of the
 * verification itself. Public keys only; a point that fails to import is never stored.
 */
const verificationKeys = new Map<string, KeyObject>();

/** Entries of the verification-key cache; the least recently used goes first. */
export const VERIFICATION_KEY_CACHE_SIZE = 256;

async function importVerificationKey(
  curve: keyof typeof WEBCRYPTO_CURVE,
  base64: string,
): Promise<KeyObject> {
  try {
    const point = Buffer.from(base64, 'base64');
    const key = await webcrypto.subtle.importKey(
      'raw',
      point,
      { name: 'ECDSA', namedCurve: WEBCRYPTO_CURVE[curve] },
      true,
      ['verify'],
    );
    return KeyObject.from(key);
  } catch {
    throw decryptionError('the signing public key in the encryption context is not a valid point');
  }
}
