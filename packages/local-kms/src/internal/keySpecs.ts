import {
  createPrivateKey,
  createSecretKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { randomBuffer } from './randomPool.js';

/** KMS key usages. */
export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY' | 'GENERATE_VERIFY_MAC' | 'KEY_AGREEMENT';

/** What local-kms knows about one KMS key spec. */
export interface KeySpecInfo {
  readonly spec: string;
  readonly kind: 'symmetric' | 'hmac' | 'rsa' | 'ecc';
  /** Usages KMS allows for this spec (and local-kms emulates). */
  readonly usages: readonly KeyUsage[];
  /** New key material: raw secret bytes, or a PKCS#8 DER private key. */
  generate(): Buffer;
  /** The material as a node:crypto key (secret or private). */
  load(material: Buffer): KeyObject;
  /** Algorithms listed in `KeyMetadata` for a usage. */
  algorithms(usage: string): {
    readonly EncryptionAlgorithms?: readonly string[];
    readonly SigningAlgorithms?: readonly string[];
    readonly MacAlgorithms?: readonly string[];
  };
}

const secret = (m: Buffer): KeyObject => createSecretKey(m);
const privateDer = (m: Buffer): KeyObject =>
  createPrivateKey({ key: m, format: 'der', type: 'pkcs8' });

function hmac(spec: string, bytes: number, algorithm: string): KeySpecInfo {
  return {
    spec,
    kind: 'hmac',
    usages: ['GENERATE_VERIFY_MAC'],
    generate: () => randomBuffer(bytes),
    load: secret,
    algorithms: () => ({ MacAlgorithms: [algorithm] }),
  };
}

const RSA_SIGNING = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
];
const RSA_ENCRYPTION = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];

function rsa(bits: number): KeySpecInfo {
  return {
    spec: `RSA_${bits}`,
    kind: 'rsa',
    usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
    generate: () =>
      generateKeyPairSync('rsa', {
        modulusLength: bits,
        privateKeyEncoding: { format: 'der', type: 'pkcs8' },
        publicKeyEncoding: { format: 'der', type: 'spki' },
      }).privateKey,
    load: privateDer,
    algorithms: (usage) =>
      usage === 'SIGN_VERIFY'
        ? { SigningAlgorithms: RSA_SIGNING }
        : { EncryptionAlgorithms: RSA_ENCRYPTION },
  };
}

function ecc(spec: string, curve: string, signing: string): KeySpecInfo {
  return {
    spec,
    kind: 'ecc',
    usages: ['SIGN_VERIFY'],
    generate: () =>
      curve === 'ed25519'
        ? generateKeyPairSync('ed25519', {
            privateKeyEncoding: { format: 'der', type: 'pkcs8' },
            publicKeyEncoding: { format: 'der', type: 'spki' },
          }).privateKey
        : generateKeyPairSync('ec', {
            namedCurve: curve,
            privateKeyEncoding: { format: 'der', type: 'pkcs8' },
            publicKeyEncoding: { format: 'der', type: 'spki' },
          }).privateKey,
    load: privateDer,
    algorithms: () => ({ SigningAlgorithms: [signing] }),
  };
}

/** Key specs local-kms can create, by KMS name. ML-DSA and SM2 are missing: node:crypto lacks them on Node 20. */
export const KEY_SPECS: ReadonlyMap<string, KeySpecInfo> = new Map(
  [
    {
      spec: 'SYMMETRIC_DEFAULT',
      kind: 'symmetric',
      usages: ['ENCRYPT_DECRYPT'],
      generate: () => randomBuffer(32),
      load: secret,
      algorithms: () => ({ EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] }),
    } satisfies KeySpecInfo,
    hmac('HMAC_224', 28, 'HMAC_SHA_224'),
    hmac('HMAC_256', 32, 'HMAC_SHA_256'),
    hmac('HMAC_384', 48, 'HMAC_SHA_384'),
    hmac('HMAC_512', 64, 'HMAC_SHA_512'),
    rsa(2048),
    rsa(3072),
    rsa(4096),
    ecc('ECC_NIST_P256', 'prime256v1', 'ECDSA_SHA_256'),
    ecc('ECC_NIST_P384', 'secp384r1', 'ECDSA_SHA_384'),
    ecc('ECC_NIST_P521', 'secp521r1', 'ECDSA_SHA_512'),
    ecc('ECC_SECG_P256K1', 'secp256k1', 'ECDSA_SHA_256'),
    ecc('ECC_NIST_EDWARDS25519', 'ed25519', 'ED25519_SHA_512'),
  ].map((s) => [s.spec, s]),
);

/** The info of a spec local-kms created; throws for a spec it never creates. */
export function specInfo(spec: string): KeySpecInfo {
  const info = KEY_SPECS.get(spec);
  if (info === undefined) throw new Error(`local-kms: unknown key spec ${spec}`);
  return info;
}

/** The raw material behind a loaded key: secret bytes, or a PKCS#8 DER private key. */
export function exportMaterial(key: KeyObject): Buffer {
  return key.type === 'secret' ? key.export() : key.export({ format: 'der', type: 'pkcs8' });
}
