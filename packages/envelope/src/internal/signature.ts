import { ECDH, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AlgorithmSuite } from '../suites.js';
import { decryptionError } from '../errors.js';

/** DER SubjectPublicKeyInfo up to the BIT STRING holding an uncompressed point (RFC 5480). */
const SPKI_PREFIX = {
  prime256v1: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
  secp384r1: Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
} as const;

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

/**
 * The verification key from the base64 compressed point stored in the encryption context. The point is
 * decompressed by OpenSSL (`ECDH.convertKey`), not in JavaScript.
 */
export function verificationKey(suite: AlgorithmSuite, base64: string): KeyObject {
  const sig = suite.signature;
  if (!sig) throw new Error('suite does not sign');
  try {
    const compressed = Buffer.from(base64, 'base64');
    const full = ECDH.convertKey(
      compressed,
      sig.curve,
      undefined,
      undefined,
      'uncompressed',
    ) as Buffer;
    // SPKI DER is a fixed prefix plus the uncompressed point: cheaper for OpenSSL to import than a JWK.
    const prefix = SPKI_PREFIX[sig.curve];
    const der = Buffer.allocUnsafe(prefix.length + full.length);
    prefix.copy(der, 0);
    full.copy(der, prefix.length);
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw decryptionError('the signing public key in the encryption context is not a valid point');
  }
}
