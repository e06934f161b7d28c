import type { KeyObject } from 'node:crypto';
import type { EncryptedDataKey } from '../format/header.js';
import {
  PUBLIC_KEY_CONTEXT_KEY,
  RESERVED_CONTEXT_PREFIX,
  serializeEncryptionContext,
  type EncryptionContext,
} from '../format/encryptionContext.js';
import type { AlgorithmSuite } from '../suites.js';
import {
  isSyncKeyring,
  type DecryptionMaterials,
  type EncryptionMaterials,
  type Keyring,
} from '../keyrings/types.js';
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
    const { materials, signingKey } = startEncryption(request);
    await this.keyring.onEncrypt(materials);
    return finishEncryption(request, materials, signingKey);
  }

  /**
   * `getEncryptionMaterials` without a promise when the keyring needs no I/O (the raw AES keyring), with
   * the serialised context it made for the keyring (the header reuses it); `undefined` for any other
   * keyring. Called by `encrypt` directly, so nothing can change the materials in between. @internal
   */
  encryptSync(
    request: EncryptionMaterialsRequest,
  ): { materials: EncryptionMaterialsResult; serializedContext: Buffer } | undefined {
    const k = this.keyring;
    if (!isSyncKeyring(k)) return undefined;
    const { materials, signingKey } = startEncryption(request);
    k.onEncryptSync(materials);
    return {
      materials: finishEncryption(request, materials, signingKey),
      serializedContext: materials.serializedContext,
    };
  }

  async decryptMaterials(request: DecryptionMaterialsRequest): Promise<DecryptionMaterialsResult> {
    const { suite, encryptionContext: stored } = request;
    const { materials, requiredKeys } = startDecryption(request, undefined);
    let verification: KeyObject | undefined;
    if (suite.signature) {
      const pub = stored[PUBLIC_KEY_CONTEXT_KEY];
      //= aws-encryption-sdk-specification/framework/default-cmm.md#decrypt-materials
      //# If the algorithm suite contains a signing algorithm, the default CMM MUST extract the
      //# verification key from the encryption context under the reserved `aws-crypto-public-key`
      //# key.
      //# If this key is not present in the encryption context, the operation MUST fail without
      //# returning any decryption materials.
      if (pub === undefined)
        throw decryptionError('signed message without a public key in its encryption context');
      verification = await verificationKey(suite, pub);
    }
    let cause: unknown;
    try {
      await this.keyring.onDecrypt(materials, request.encryptedDataKeys);
    } catch (e) {
      cause = e;
    }
    return finishDecryption(materials, requiredKeys, verification, cause);
  }

  /**
   * `decryptMaterials` without a promise for unsigned suites when the keyring needs no I/O (the raw AES
   * keyring); `undefined` otherwise (signed suites import the verification key asynchronously).
   * `storedContextBytes`: the header's bytes of `request.encryptionContext` when they are canonical
   * (`ParsedHeader.serializedContext`), used as the keyring's AAD instead of serialising the context
   * again. Called by `decrypt` directly with the header it parsed. @internal
   */
  decryptSync(
    request: DecryptionMaterialsRequest,
    storedContextBytes: Buffer | undefined,
  ): DecryptionMaterialsResult | undefined {
    const k = this.keyring;
    if (request.suite.signature || !isSyncKeyring(k)) return undefined;
    const { materials, requiredKeys } = startDecryption(request, storedContextBytes);
    let cause: unknown;
    try {
      k.onDecryptSync(materials, request.encryptedDataKeys);
    } catch (e) {
      cause = e;
    }
    return finishDecryption(materials, requiredKeys, undefined, cause);
  }
}

/** The encryption materials a keyring fills in, and the signing key of a signed suite. */
function startEncryption(request: EncryptionMaterialsRequest): {
  materials: EncryptionMaterials;
  signingKey: KeyObject | undefined;
} {
  const { suite } = request;
  let context = request.encryptionContext;
  let signingKey: KeyObject | undefined;
  if (suite.signature) {
    //= aws-encryption-sdk-specification/framework/default-cmm.md#get-encryption-materials
    //# If the algorithm suite contains a signing algorithm, the default CMM MUST Generate a signing
    //# key.
    //# If the algorithm suite contains a signing algorithm, the default CMM MUST Add the key-value
    //# pair of key `aws-crypto-public-key`, value `base64-encoded public verification key` to the
    //# encryption context.
    // Deviation: the same section says that if the request's encryption context already contains
    // `aws-crypto-public-key` this operation MUST fail rather than overwrite the value; this manager
    // overwrites it. encrypt() and the encrypt streams refuse every `aws-crypto-` key on input
    // (checkEncryptContext), so only code that calls getEncryptionMaterials directly can reach this.
    const k = generateSigningKey(suite);
    signingKey = k.privateKey;
    context = { ...context, [PUBLIC_KEY_CONTEXT_KEY]: k.publicKey };
  }
  return {
    materials: {
      suite,
      encryptionContext: context,
      serializedContext: serializeEncryptionContext(context),
      plaintextDataKey: undefined,
      encryptedDataKeys: [],
    },
    signingKey,
  };
}

function finishEncryption(
  request: EncryptionMaterialsRequest,
  materials: EncryptionMaterials,
  signingKey: KeyObject | undefined,
): EncryptionMaterialsResult {
  const { suite } = materials;
  const key = materials.plaintextDataKey;
  if (
    key === undefined ||
    key.length !== suite.keyLength ||
    materials.encryptedDataKeys.length === 0
  ) {
    key?.fill(0);
    throw new InvalidOptionError(
      'the keyring did not produce a data key and at least one encrypted data key',
    );
  }
  const result: EncryptionMaterialsResult = {
    suite,
    encryptionContext: materials.encryptionContext,
    requiredEncryptionContextKeys: request.requiredEncryptionContextKeys,
    plaintextDataKey: key,
    encryptedDataKeys: materials.encryptedDataKeys,
    signingKey,
  };
  return result;
}

/** Merges the reproduced context, checks the public key rule, and builds the keyring's materials. */
function startDecryption(
  request: DecryptionMaterialsRequest,
  storedContextBytes: Buffer | undefined,
): {
  materials: DecryptionMaterials;
  requiredKeys: string[];
} {
  const { suite, encryptionContext: stored } = request;
  const { context, requiredKeys } = mergeReproducedContext(
    stored,
    request.reproducedEncryptionContext,
  );
  if (!suite.signature && Object.prototype.hasOwnProperty.call(stored, PUBLIC_KEY_CONTEXT_KEY)) {
    //= aws-encryption-sdk-specification/framework/default-cmm.md#decrypt-materials
    //# If the algorithm suite does not contain a signing algorithm, but the encryption context
    //# includes the reserved `aws-crypto-public-key` key, the operation MUST fail without returning
    //# any decryption materials.
    throw decryptionError(
      'unsigned message carries a signing public key in its encryption context',
    );
  }
  // The header's bytes stand for the serialised context when nothing was merged into it and they are
  // canonical (the parser checked): the same bytes serializeEncryptionContext would write.
  const serialized =
    context === stored && storedContextBytes !== undefined
      ? storedContextBytes
      : serializeEncryptionContext(context);
  return {
    materials: {
      suite,
      encryptionContext: context,
      serializedContext: serialized,
      plaintextDataKey: undefined,
    },
    requiredKeys,
  };
}

function finishDecryption(
  materials: DecryptionMaterials,
  requiredKeys: readonly string[],
  verification: KeyObject | undefined,
  cause: unknown,
): DecryptionMaterialsResult {
  const { suite } = materials;
  const key = materials.plaintextDataKey;
  if (key === undefined) {
    //= aws-encryption-sdk-specification/framework/default-cmm.md#decrypt-materials
    //# The default CMM MUST obtain the Plaintext Data Key from the On Decrypt response and include it in
    //# the decrypt materials returned.
    //= aws-encryption-sdk-specification/framework/cmm-interface.md#decrypt-materials
    //# The value of the plaintext data key MUST be non-NULL.
    // The keyring's own failure says which keyring failed and why (its messages never carry key
    // material or context values), so it is repeated here for callers that only log the message.
    throw new DecryptionError(
      cause instanceof Error
        ? `no keyring could decrypt any of the encrypted data keys: ${cause.message}`
        : 'no keyring could decrypt any of the encrypted data keys',
      cause === undefined ? undefined : { cause },
    );
  }
  if (key.length !== suite.keyLength) {
    key.fill(0);
    throw decryptionError('the keyring returned a data key of the wrong length');
  }
  return {
    suite,
    encryptionContext: materials.encryptionContext,
    requiredEncryptionContextKeys: requiredKeys,
    plaintextDataKey: key,
    verificationKey: verification,
  };
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
      //= aws-encryption-sdk-specification/framework/cmm-interface.md#decrypt-materials
      //# The CMM MUST validate the Encryption Context by comparing it to the customer supplied
      //# Reproduced Encryption Context in decrypt materials request.
      //# For every key that exists in both Reproduced Encryption Context and Encryption Context,
      //# the values MUST be equal or the operation MUST fail.
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
