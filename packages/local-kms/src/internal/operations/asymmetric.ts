import {
  constants,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';
import { KmsError } from '../errors.js';
import { checkGrantTokens, optContext, optEnum, reqBlob, reqString, type Input } from '../input.js';
import { specInfo } from '../keySpecs.js';
import type { Key } from '../KeyStore.js';
import { sealUnder, symmetricKey } from './crypto.js';
import { dryRun, noRecipient, usable, type Handler, type OpContext } from './shared.js';

const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'SM2DSA',
  'ML_DSA_SHAKE_256',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
] as const;
const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
const KEY_PAIR_SPECS: Readonly<
  Record<string, { type: 'rsa' | 'ec' | 'ed25519'; param?: number | string }>
> = {
  RSA_2048: { type: 'rsa', param: 2048 },
  RSA_3072: { type: 'rsa', param: 3072 },
  RSA_4096: { type: 'rsa', param: 4096 },
  ECC_NIST_P256: { type: 'ec', param: 'prime256v1' },
  ECC_NIST_P384: { type: 'ec', param: 'secp384r1' },
  ECC_NIST_P521: { type: 'ec', param: 'secp521r1' },
  ECC_SECG_P256K1: { type: 'ec', param: 'secp256k1' },
  ECC_NIST_EDWARDS25519: { type: 'ed25519' },
};

function current(key: Key): KeyObject {
  return key.materials[key.materials.length - 1]!;
}

/** The signing algorithm, checked against what the key's spec allows. */
function signingAlgorithm(key: Key, input: Input): string {
  const alg = optEnum(input, 'SigningAlgorithm', SIGNING_ALGORITHMS);
  if (alg === undefined) {
    throw new KmsError(
      'ValidationException',
      "1 validation error detected: Value at 'signingAlgorithm' failed to satisfy constraint: Member must not be null",
    );
  }
  const allowed = specInfo(key.stored.keySpec).algorithms('SIGN_VERIFY').SigningAlgorithms ?? [];
  if (!allowed.includes(alg)) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `The signing algorithm ${alg} is not valid for a ${key.stored.keySpec} key.`,
    );
  }
  return alg;
}

function rawMessage(input: Input): Buffer {
  const type = optEnum(input, 'MessageType', ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const) ?? 'RAW';
  if (type !== 'RAW') {
    throw new KmsError(
      'UnsupportedOperationException',
      `local-kms signs RAW messages only, not ${type}.`,
    );
  }
  return reqBlob(input, 'Message', 1, 4096);
}

/** node:crypto parameters for a KMS signing algorithm. */
function signParams(
  alg: string,
  key: KeyObject,
): [string | null, KeyObject | { key: KeyObject; padding: number; saltLength?: number }] {
  if (alg === 'ED25519_SHA_512') return [null, key];
  const bits = alg.slice(-3);
  const digest = `sha${bits}`;
  if (alg.startsWith('RSASSA_PSS_')) {
    return [
      digest,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 },
    ];
  }
  if (alg.startsWith('RSASSA_PKCS1_'))
    return [digest, { key, padding: constants.RSA_PKCS1_PADDING }];
  return [digest, key];
}

function macKey(ctx: OpContext, input: Input): { key: Key; alg: string } {
  const key = usable(
    ctx.store.resolve(ctx.region, reqString(input, 'KeyId')),
    'GENERATE_VERIFY_MAC',
  );
  const alg = optEnum(input, 'MacAlgorithm', MAC_ALGORITHMS);
  const allowed =
    specInfo(key.stored.keySpec).algorithms('GENERATE_VERIFY_MAC').MacAlgorithms ?? [];
  if (alg === undefined || !allowed.includes(alg)) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `MacAlgorithm must be ${allowed.join(' or ')} for this key.`,
    );
  }
  return { key, alg };
}

function mac(key: Key, alg: string, message: Buffer): Buffer {
  return createHmac(`sha${alg.slice(-3)}`, current(key))
    .update(message)
    .digest();
}

function generatePair(params: { type: 'rsa' | 'ec' | 'ed25519'; param?: number | string }): {
  privateKey: Buffer;
  publicKey: Buffer;
} {
  const privateKeyEncoding = { format: 'der', type: 'pkcs8' } as const;
  const publicKeyEncoding = { format: 'der', type: 'spki' } as const;
  if (params.type === 'rsa') {
    return generateKeyPairSync('rsa', {
      modulusLength: Number(params.param),
      privateKeyEncoding,
      publicKeyEncoding,
    });
  }
  if (params.type === 'ec') {
    return generateKeyPairSync('ec', {
      namedCurve: String(params.param),
      privateKeyEncoding,
      publicKeyEncoding,
    });
  }
  return generateKeyPairSync('ed25519', { privateKeyEncoding, publicKeyEncoding });
}

function keyPair(ctx: OpContext, input: Input, withPlaintext: boolean): object {
  const key = symmetricKey(ctx, input);
  const spec = reqString(input, 'KeyPairSpec', 1, 64);
  const params = KEY_PAIR_SPECS[spec];
  if (params === undefined) {
    throw new KmsError(
      'UnsupportedOperationException',
      `local-kms cannot generate ${spec} key pairs.`,
    );
  }
  const context = optContext(input, 'EncryptionContext');
  checkGrantTokens(input);
  noRecipient(input);
  dryRun(input);
  const pair = generatePair(params);
  const sealed = sealUnder(key, pair.privateKey, context);
  const out: Record<string, unknown> = {
    PrivateKeyCiphertextBlob: sealed.toString('base64'),
    PublicKey: pair.publicKey.toString('base64'),
    KeyId: key.arn,
    KeyPairSpec: spec,
    KeyMaterialId: key.materialIds[key.materialIds.length - 1],
  };
  if (withPlaintext) out['PrivateKeyPlaintext'] = pair.privateKey.toString('base64');
  else pair.privateKey.fill(0);
  return out;
}

/** Sign, Verify, GetPublicKey, GenerateMac, VerifyMac, GenerateDataKeyPair(+WithoutPlaintext). */
export const ASYMMETRIC_HANDLERS: Readonly<Record<string, Handler>> = {
  GetPublicKey(ctx, input) {
    checkGrantTokens(input);
    const key = ctx.store.resolve(ctx.region, reqString(input, 'KeyId'));
    const s = key.stored;
    if (!s.keySpec.startsWith('RSA_') && !s.keySpec.startsWith('ECC_')) {
      throw new KmsError('UnsupportedOperationException', `${key.arn} has no public key.`);
    }
    if (s.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    if (s.state === 'PendingDeletion') {
      throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    }
    const spki = createPublicKey(current(key)).export({ format: 'der', type: 'spki' });
    return {
      KeyId: key.arn,
      PublicKey: spki.toString('base64'),
      CustomerMasterKeySpec: s.keySpec,
      KeySpec: s.keySpec,
      KeyUsage: s.keyUsage,
      ...specInfo(s.keySpec).algorithms(s.keyUsage),
    };
  },

  Sign(ctx, input) {
    const key = usable(ctx.store.resolve(ctx.region, reqString(input, 'KeyId')), 'SIGN_VERIFY');
    const alg = signingAlgorithm(key, input);
    const message = rawMessage(input);
    checkGrantTokens(input);
    dryRun(input);
    const [digest, signer] = signParams(alg, current(key));
    return {
      KeyId: key.arn,
      Signature: sign(digest, message, signer).toString('base64'),
      SigningAlgorithm: alg,
    };
  },

  Verify(ctx, input) {
    const key = usable(ctx.store.resolve(ctx.region, reqString(input, 'KeyId')), 'SIGN_VERIFY');
    const alg = signingAlgorithm(key, input);
    const message = rawMessage(input);
    const signature = reqBlob(input, 'Signature', 1, 6144);
    checkGrantTokens(input);
    dryRun(input);
    const [digest, signer] = signParams(alg, current(key));
    const verifier =
      signer instanceof Object && 'key' in signer
        ? { ...signer, key: createPublicKey(signer.key) }
        : createPublicKey(signer);
    let valid = false;
    try {
      valid = verify(digest, message, verifier, signature);
    } catch {
      valid = false;
    }
    if (!valid) throw new KmsError('KMSInvalidSignatureException', 'The signature is not valid.');
    return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: alg };
  },

  GenerateMac(ctx, input) {
    const { key, alg } = macKey(ctx, input);
    const message = reqBlob(input, 'Message', 1, 4096);
    checkGrantTokens(input);
    dryRun(input);
    return { Mac: mac(key, alg, message).toString('base64'), MacAlgorithm: alg, KeyId: key.arn };
  },

  VerifyMac(ctx, input) {
    const { key, alg } = macKey(ctx, input);
    const message = reqBlob(input, 'Message', 1, 4096);
    const given = reqBlob(input, 'Mac', 1, 6144);
    checkGrantTokens(input);
    dryRun(input);
    const expected = mac(key, alg, message);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new KmsError('KMSInvalidMacException', 'The MAC is not valid.');
    }
    return { KeyId: key.arn, MacValid: true, MacAlgorithm: alg };
  },

  GenerateDataKeyPair: (ctx, input) => keyPair(ctx, input, true),
  GenerateDataKeyPairWithoutPlaintext: (ctx, input) => keyPair(ctx, input, false),
};
