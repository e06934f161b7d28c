import { constants, createPublicKey, privateDecrypt, publicEncrypt } from 'node:crypto';
import { KmsError, validation } from '../errors.js';
import { openBlob, readBlobHeader, sealBlob, type EncryptionContext } from '../ciphertext.js';
import {
  checkGrantTokens,
  optBool,
  optContext,
  optEnum,
  optInt,
  optString,
  reqBlob,
  reqString,
  type Input,
} from '../input.js';
import { randomBuffer } from '../randomPool.js';
import type { Key } from '../KeyStore.js';
import { connected, keyStoreOf } from './keyStores.js';
import {
  DRY_RUN_MESSAGE,
  dryRun,
  noRecipient,
  usable,
  type Handler,
  type OpContext,
} from './shared.js';

const ENCRYPTION_ALGORITHMS = [
  'SYMMETRIC_DEFAULT',
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'SM2PKE',
] as const;
type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];
const MAX_CIPHERTEXT = 6144;

const invalidCiphertext = (): KmsError =>
  new KmsError(
    'InvalidCiphertextException',
    'The ciphertext is invalid, was changed, or was encrypted under a different encryption context.',
  );

/** Checks the algorithm against the key: SYMMETRIC_DEFAULT for symmetric keys, RSAES_OAEP_* for RSA. */
function algorithmFor(key: Key, input: Input, name: string): EncryptionAlgorithm {
  const given = optEnum(input, name, ENCRYPTION_ALGORITHMS);
  const symmetric = key.stored.keySpec === 'SYMMETRIC_DEFAULT';
  const alg = given ?? 'SYMMETRIC_DEFAULT';
  if (symmetric ? alg !== 'SYMMETRIC_DEFAULT' : !alg.startsWith('RSAES_OAEP_')) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `The encryption algorithm ${alg} is not valid for a ${key.stored.keySpec} key.`,
    );
  }
  return alg;
}

function oaepHash(alg: EncryptionAlgorithm): 'sha1' | 'sha256' {
  return alg === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256';
}

function noContextForAsymmetric(key: Key, context: EncryptionContext | undefined): void {
  if (
    key.stored.keySpec !== 'SYMMETRIC_DEFAULT' &&
    context !== undefined &&
    Object.keys(context).length > 0
  ) {
    throw validation('EncryptionContext is not supported with asymmetric KMS keys.');
  }
}

/** Encrypts under a key's current material (symmetric) or its public key (RSA). */
function encryptUnder(
  key: Key,
  plaintext: Buffer,
  context: EncryptionContext | undefined,
  alg: EncryptionAlgorithm,
): Buffer {
  const version = key.materials.length - 1;
  const material = key.materials[version]!;
  if (alg === 'SYMMETRIC_DEFAULT') {
    return sealBlob(material, key.stored.id, version, plaintext, context);
  }
  const publicKey = createPublicKey(material);
  const hashBytes = alg === 'RSAES_OAEP_SHA_1' ? 20 : 32;
  const max = (publicKey.asymmetricKeyDetails?.modulusLength ?? 2048) / 8 - 2 * hashBytes - 2;
  if (plaintext.length > max) {
    throw validation(
      `1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    );
  }
  return publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash(alg) },
    plaintext,
  );
}

/**
 * Decrypts a blob. Symmetric blobs name their key; RSA ciphertexts do not, so those need `KeyId`. When
 * `KeyId` is given it must be the blob's key (`IncorrectKeyException`). `dry` stops before answering.
 */
function decryptAny(
  ctx: OpContext,
  input: Input,
  blob: Buffer,
  context: EncryptionContext | undefined,
  keyField: string,
  algField: string,
  dry: boolean,
): { key: Key; plaintext: Buffer; version: number; alg: EncryptionAlgorithm } {
  const ref = optString(input, keyField);
  const wanted = ref === undefined ? undefined : ctx.store.resolve(ctx.region, ref);
  if (wanted !== undefined && wanted.stored.keySpec.startsWith('RSA_')) {
    const key = usable(wanted);
    const alg = algorithmFor(key, input, algField);
    noContextForAsymmetric(key, context);
    let plaintext: Buffer;
    try {
      plaintext = privateDecrypt(
        {
          key: key.materials[key.materials.length - 1]!,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: oaepHash(alg),
        },
        blob,
      );
    } catch {
      throw invalidCiphertext();
    }
    if (dry) throw new KmsError('DryRunOperationException', DRY_RUN_MESSAGE, 412);
    return { key, plaintext, version: key.materials.length - 1, alg };
  }
  const header = readBlobHeader(blob);
  if (header === undefined) throw invalidCiphertext();
  const found = ctx.store.byId(ctx.region, header.keyId);
  if (found === undefined) throw invalidCiphertext();
  if (wanted !== undefined && wanted.stored.id !== found.stored.id) {
    throw new KmsError(
      'IncorrectKeyException',
      'The key ID in the request does not identify a KMS key that can perform this operation.',
    );
  }
  const key = usable(found);
  const alg = algorithmFor(key, input, algField);
  const material = key.materials[header.version];
  if (material === undefined) throw invalidCiphertext();
  const plaintext = openBlob(material, blob, context);
  if (plaintext === undefined) throw invalidCiphertext();
  if (dry) throw new KmsError('DryRunOperationException', DRY_RUN_MESSAGE, 412);
  return { key, plaintext, version: header.version, alg };
}

function dataKeyLength(input: Input): number {
  const n = optInt(input, 'NumberOfBytes', 1, 1024);
  const spec = optEnum(input, 'KeySpec', ['AES_256', 'AES_128'] as const);
  if (n !== undefined && spec !== undefined) {
    throw validation('Please specify either number of bytes or key spec, not both.');
  }
  if (n === undefined && spec === undefined) {
    throw validation('Please specify either number of bytes or key spec.');
  }
  return n ?? (spec === 'AES_128' ? 16 : 32);
}

/** A symmetric encryption key, as data key operations need. */
export function symmetricKey(ctx: OpContext, input: Input): Key {
  const key = usable(ctx.store.resolve(ctx.region, reqString(input, 'KeyId')));
  if (key.stored.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'InvalidKeyUsageException',
      `${key.arn} is not a symmetric encryption key; data keys need one.`,
    );
  }
  return key;
}

/** Seals a data key (or private key) under a symmetric key's current material. */
export function sealUnder(
  key: Key,
  plaintext: Buffer,
  context: EncryptionContext | undefined,
): Buffer {
  return encryptUnder(key, plaintext, context, 'SYMMETRIC_DEFAULT');
}

const currentMaterialId = (key: Key): string | undefined =>
  key.materialIds[key.materialIds.length - 1];

/** Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+WithoutPlaintext), GenerateRandom. */
export const CRYPTO_HANDLERS: Readonly<Record<string, Handler>> = {
  Encrypt(ctx, input) {
    const key = usable(ctx.store.resolve(ctx.region, reqString(input, 'KeyId')));
    const plaintext = reqBlob(input, 'Plaintext', 1, 4096);
    const context = optContext(input, 'EncryptionContext');
    const alg = algorithmFor(key, input, 'EncryptionAlgorithm');
    noContextForAsymmetric(key, context);
    checkGrantTokens(input);
    const blob = encryptUnder(key, plaintext, context, alg);
    dryRun(input);
    return { CiphertextBlob: blob.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: alg };
  },

  Decrypt(ctx, input) {
    const blob = reqBlob(input, 'CiphertextBlob', 1, MAX_CIPHERTEXT);
    const context = optContext(input, 'EncryptionContext');
    checkGrantTokens(input);
    noRecipient(input);
    const dry = optBool(input, 'DryRun') === true;
    const r = decryptAny(ctx, input, blob, context, 'KeyId', 'EncryptionAlgorithm', dry);
    return {
      KeyId: r.key.arn,
      Plaintext: r.plaintext.toString('base64'),
      EncryptionAlgorithm: r.alg,
      ...(r.alg === 'SYMMETRIC_DEFAULT' ? { KeyMaterialId: r.key.materialIds[r.version] } : {}),
    };
  },

  ReEncrypt(ctx, input) {
    const blob = reqBlob(input, 'CiphertextBlob', 1, MAX_CIPHERTEXT);
    const sourceContext = optContext(input, 'SourceEncryptionContext');
    const destinationContext = optContext(input, 'DestinationEncryptionContext');
    checkGrantTokens(input);
    const destination = usable(ctx.store.resolve(ctx.region, reqString(input, 'DestinationKeyId')));
    const destinationAlg = algorithmFor(destination, input, 'DestinationEncryptionAlgorithm');
    noContextForAsymmetric(destination, destinationContext);
    const dry = optBool(input, 'DryRun') === true;
    const source = decryptAny(
      ctx,
      input,
      blob,
      sourceContext,
      'SourceKeyId',
      'SourceEncryptionAlgorithm',
      dry,
    );
    const out = encryptUnder(destination, source.plaintext, destinationContext, destinationAlg);
    source.plaintext.fill(0);
    return {
      CiphertextBlob: out.toString('base64'),
      SourceKeyId: source.key.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: source.alg,
      DestinationEncryptionAlgorithm: destinationAlg,
      ...(source.alg === 'SYMMETRIC_DEFAULT'
        ? { SourceKeyMaterialId: source.key.materialIds[source.version] }
        : {}),
      ...(destinationAlg === 'SYMMETRIC_DEFAULT'
        ? { DestinationKeyMaterialId: currentMaterialId(destination) }
        : {}),
    };
  },

  GenerateDataKey(ctx, input) {
    const key = symmetricKey(ctx, input);
    const length = dataKeyLength(input);
    const context = optContext(input, 'EncryptionContext');
    checkGrantTokens(input);
    noRecipient(input);
    dryRun(input);
    const plaintext = randomBuffer(length);
    return {
      CiphertextBlob: sealUnder(key, plaintext, context).toString('base64'),
      Plaintext: plaintext.toString('base64'),
      KeyId: key.arn,
      KeyMaterialId: currentMaterialId(key),
    };
  },

  GenerateDataKeyWithoutPlaintext(ctx, input) {
    const key = symmetricKey(ctx, input);
    const length = dataKeyLength(input);
    const context = optContext(input, 'EncryptionContext');
    checkGrantTokens(input);
    dryRun(input);
    const plaintext = randomBuffer(length);
    const blob = sealUnder(key, plaintext, context);
    plaintext.fill(0);
    return {
      CiphertextBlob: blob.toString('base64'),
      KeyId: key.arn,
      KeyMaterialId: currentMaterialId(key),
    };
  },

  GenerateRandom(_ctx, input) {
    const n = optInt(input, 'NumberOfBytes', 1, 1024);
    if (optString(input, 'CustomKeyStoreId', 1, 64) !== undefined) {
      connected(keyStoreOf(_ctx, input));
    }
    noRecipient(input);
    if (n === undefined) throw validation('Please specify the number of bytes.');
    return { Plaintext: randomBuffer(n).toString('base64') };
  },
};
