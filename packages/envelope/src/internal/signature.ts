import { KeyObject, generateKeyPairSync, webcrypto } from 'node:crypto';
import type { AlgorithmSuite } from '../suites.js';
import { decryptionError } from '../errors.js';

/** A fresh signing key and the value to store under `aws-crypto-public-key`. */
export function generateSigningKey(suite: AlgorithmSuite): {
  privateKey: KeyObject;
  publicKey: string;
} {
  const sig = suite.signature;
  if (!sig) throw new Error('suite does not sign');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: sig.curve });
  const jwk = publicKey.export({ format: 'jwk' });
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
  try {
    const point = Buffer.from(base64, 'base64');
    const key = await webcrypto.subtle.importKey(
      'raw',
      point,
      { name: 'ECDSA', namedCurve: WEBCRYPTO_CURVE[sig.curve] },
      true,
      ['verify'],
    );
    return KeyObject.from(key);
  } catch {
    throw decryptionError('the signing public key in the encryption context is not a valid point');
  }
}
