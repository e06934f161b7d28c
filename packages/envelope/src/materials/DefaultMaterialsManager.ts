import type { KeyObject } from 'node:crypto';
import type { EncryptedDataKey } from '../format/header.js';
import {
  PUBLIC_KEY_CONTEXT_KEY,
  RESERVED_CONTEXT_PREFIX,
  serializeEncryptionContext,
  type EncryptionContext,
} from '../format/encryptionContext.js';
import type { AlgorithmSuite } from '../suites.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from '../keyrings/types.js';
import { DecryptionError, decryptionError } from '../errors.js';
import { generateSigningKey, verificationKey } from '../internal/signature.js';
import { InvalidOptionError } from '@steadykms/core';

/** What encrypt asks a materials manager for. */
export interface EncryptionMaterialsRequest {
  readonly suite: AlgorithmSuite;
  readonly encryptionContext: EncryptionContext;
  /** Keys of `encryptionContext` to authenticate but not store in the header. */
  readonly requiredEncryptionContextKeys: readonly string[];
  /** Plaintext length in bytes, when known (the caching manager uses it for its byte limit). */
  readonly plaintextLength: number | undefined;
}

/** Everything encrypt needs; the data key is owned (and zeroed) by the caller. */
export interface EncryptionMaterialsResult {
  readonly suite: AlgorithmSuite;
  /** Full context: user pairs plus the signing public key. */
  readonly encryptionContext: EncryptionContext;
  readonly requiredEncryptionContextKeys: readonly string[];
  readonly plaintextDataKey: Buffer;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly signingKey: KeyObject | undefined;
}

/** What decrypt asks a materials manager for. */
export interface DecryptionMaterialsRequest {
  readonly suite: AlgorithmSuite;
  /** Context stored in the header. */
  readonly encryptionContext: EncryptionContext;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  /** Context the caller supplied at decrypt (may include pairs the header does not store). */
  readonly reproducedEncryptionContext: EncryptionContext | undefined;
}

/** Everything decrypt needs; the data key is owned (and zeroed) by the caller. */
export interface DecryptionMaterialsResult {
  readonly suite: AlgorithmSuite;
  /** Stored pairs plus authenticate-only pairs. */
  readonly encryptionContext: EncryptionContext;
  /** Keys whose pairs are authenticated but not stored. */
  readonly requiredEncryptionContextKeys: readonly string[];
  readonly plaintextDataKey: Buffer;
  readonly verificationKey: KeyObject | undefined;
}

/**
 * Supplies data keys to encrypt and decrypt (the ESDK's cryptographic materials manager). The default
 * one asks a keyring; the caching one ({@link CachingMaterialsManager}) reuses data keys.
 */
export interface MaterialsManager {
  getEncryptionMaterials(request: EncryptionMaterialsRequest): Promise<EncryptionMaterialsResult>;
  decryptMaterials(request: DecryptionMaterialsRequest): Promise<DecryptionMaterialsResult>;
}

/** The ESDK's default materials manager: one keyring, a fresh data key per message. */
export class DefaultMaterialsManager implements MaterialsManager {
  constructor(readonly keyring: Keyring) {}

  async getEncryptionMaterials(
    request: EncryptionMaterialsRequest,
  ): Promise<EncryptionMaterialsResult> {
    const { suite } = request;
    let context = request.encryptionContext;
    let signingKey: KeyObject | undefined;
    if (suite.signature) {
      //= aws-encryption-sdk-specification/framework/default-cmm.md#get-encryption-materials
      //# If the encryption materials request contains an algorithm suite containing a signing algorithm, the default CMM MUST generate a signing key and add the public key to the encryption context under aws-crypto-public-key.
      const k = generateSigningKey(suite);
      signingKey = k.privateKey;
      context = { ...context, [PUBLIC_KEY_CONTEXT_KEY]: k.publicKey };
    }
    const materials: EncryptionMaterials = {
      suite,
      encryptionContext: context,
      serializedContext: serializeEncryptionContext(context),
      plaintextDataKey: undefined,
      encryptedDataKeys: [],
    };
    await this.keyring.onEncrypt(materials);
    const key = materials.plaintextDataKey;
    if (
      key === undefined ||
      key.length !== suite.keyLength ||
      materials.encryptedDataKeys.length === 0
    ) {
      throw new InvalidOptionError(
        'the keyring did not produce a data key and at least one encrypted data key',
      );
    }
    return {
      suite,
      encryptionContext: context,
      requiredEncryptionContextKeys: request.requiredEncryptionContextKeys,
      plaintextDataKey: key,
      encryptedDataKeys: materials.encryptedDataKeys,
      signingKey,
    };
  }

  async decryptMaterials(request: DecryptionMaterialsRequest): Promise<DecryptionMaterialsResult> {
    const { suite, encryptionContext: stored } = request;
    const { context, requiredKeys } = mergeReproducedContext(
      stored,
      request.reproducedEncryptionContext,
    );
    let verification: KeyObject | undefined;
    if (suite.signature) {
      const pub = stored[PUBLIC_KEY_CONTEXT_KEY];
      //= aws-encryption-sdk-specification/framework/default-cmm.md#decrypt-materials
      //# If the algorithm suite contains a signing algorithm, the default CMM MUST extract the verification key from the encryption context under the reserved aws-crypto-public-key key.
      if (pub === undefined)
        throw decryptionError('signed message without a public key in its encryption context');
      verification = verificationKey(suite, pub);
    } else if (Object.prototype.hasOwnProperty.call(stored, PUBLIC_KEY_CONTEXT_KEY)) {
      //= aws-encryption-sdk-specification/framework/default-cmm.md#decrypt-materials
      //# If the algorithm suite does not contain a signing algorithm but the encryption context includes the reserved aws-crypto-public-key key, the operation MUST fail.
      throw decryptionError(
        'unsigned message carries a signing public key in its encryption context',
      );
    }
    const materials: DecryptionMaterials = {
      suite,
      encryptionContext: context,
      serializedContext: serializeEncryptionContext(context),
      plaintextDataKey: undefined,
    };
    let cause: unknown;
    try {
      await this.keyring.onDecrypt(materials, request.encryptedDataKeys);
    } catch (e) {
      cause = e;
    }
    const key = materials.plaintextDataKey;
    if (key === undefined) {
      //= aws-encryption-sdk-specification/framework/default-cmm.md#decrypt-materials
      //# If the keyring does not return a plaintext data key, this operation MUST fail.
      throw new DecryptionError(
        'no keyring could decrypt any of the encrypted data keys',
        cause === undefined ? undefined : { cause },
      );
    }
    if (key.length !== suite.keyLength)
      throw decryptionError('the keyring returned a data key of the wrong length');
    return {
      suite,
      encryptionContext: context,
      requiredEncryptionContextKeys: requiredKeys,
      plaintextDataKey: key,
      verificationKey: verification,
    };
  }
}

/**
 * Merges the context given at decrypt with the stored one: shared keys must have equal values, and pairs
 * the header does not store become authenticate-only pairs (appended to the header-auth AAD).
 * @internal
 */
export function mergeReproducedContext(
  stored: EncryptionContext,
  reproduced: EncryptionContext | undefined,
): { context: EncryptionContext; requiredKeys: string[] } {
  if (reproduced === undefined) return { context: stored, requiredKeys: [] };
  const requiredKeys: string[] = [];
  let context: Record<string, string> | undefined;
  for (const k of Object.keys(reproduced)) {
    const v = reproduced[k] as string;
    if (Object.prototype.hasOwnProperty.call(stored, k)) {
      //= aws-encryption-sdk-specification/framework/default-cmm.md#decrypt-materials
      //# For every key in the reproduced encryption context that also exists in the encryption context of the request, the values MUST be equal or this operation MUST fail.
      if (stored[k] !== v)
        throw decryptionError(`encryption context mismatch for key ${JSON.stringify(k)}`);
    } else {
      if (k.startsWith(RESERVED_CONTEXT_PREFIX))
        throw decryptionError('reproduced encryption context uses a reserved key');
      context ??= { ...stored };
      context[k] = v;
      requiredKeys.push(k);
    }
  }
  return { context: context ?? stored, requiredKeys };
}
