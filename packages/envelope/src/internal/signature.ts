import { ECDH, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AlgorithmSuite } from '../suites.js';
import { decryptionError } from '../errors.js';

const JWK_CURVE = { prime256v1: 'P-256', secp384r1: 'P-384' } as const;

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
    const n = (full.length - 1) / 2;
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: JWK_CURVE[sig.curve],
        x: full.subarray(1, 1 + n).toString('base64url'),
        y: full.subarray(1 + n).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw decryptionError('the signing public key in the encryption context is not a valid point');
  }
}
