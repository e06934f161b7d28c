import { needs } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import { DecryptionError, decryptionError } from '../errors.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './types.js';

/** Options of {@link MultiKeyring}. */
export interface MultiKeyringOptions {
  /**
   * Generates the data key on encrypt (and wraps it); on decrypt, tried first. Required unless there are
   * children; without it, encrypt needs materials that already hold a data key.
   */
  readonly generator?: Keyring;
  /** Each wraps the data key too; on decrypt, tried in order after the generator. */
  readonly children?: readonly Keyring[];
}

/**
 * Combines keyrings: on encrypt every keyring wraps the same data key, so any one of them can decrypt; on
 * decrypt the generator then the children are tried in order until one unwraps a data key. A child that
 * fails on decrypt does not stop the others; when none succeeds, the error lists every child's failure.
 */
export class MultiKeyring implements Keyring {
  readonly generator: Keyring | undefined;
  readonly children: readonly Keyring[];

  constructor(options: MultiKeyringOptions) {
    //= aws-encryption-sdk-specification/framework/multi-keyring.md#inputs
    //# On keyring initialization, a keyring MUST define at least one of the following:
    //# - Generator Keyring
    //# - Child Keyrings
    needs(
      options.generator !== undefined || (options.children?.length ?? 0) > 0,
      'MultiKeyring: a generator or a child is required',
    );
    this.generator = options.generator;
    this.children = [...(options.children ?? [])];
  }

  async onEncrypt(materials: EncryptionMaterials): Promise<EncryptionMaterials> {
    if (this.generator) {
      //= aws-encryption-sdk-specification/framework/multi-keyring.md#onencrypt
      //# If the input encryption materials already include a plaintext data key,
      //# OnEncrypt MUST fail.
      needs(
        materials.plaintextDataKey === undefined,
        'MultiKeyring: the encryption materials already hold a data key, but a generator is set',
      );
      //= aws-encryption-sdk-specification/framework/multi-keyring.md#onencrypt
      //# This keyring MUST first call the generator keyring's OnEncrypt
      //# using the input encryption materials as input.
      //= aws-encryption-sdk-specification/framework/multi-keyring.md#onencrypt
      //# If the generator keyring fails OnEncrypt,
      //# this OnEncrypt MUST also fail.
      await this.generator.onEncrypt(materials);
      //= aws-encryption-sdk-specification/framework/multi-keyring.md#onencrypt
      //# If the generator keyring returns encryption materials missing a plaintext data key,
      //# OnEncrypt MUST fail.
      needs(
        materials.plaintextDataKey !== undefined,
        'MultiKeyring: the generator did not produce a data key',
      );
    } else {
      //= aws-encryption-sdk-specification/framework/multi-keyring.md#onencrypt
      //# If this keyring does not have a generator keyring,
      //# and the input encryption materials
      //# does not include a plaintext data key, OnEncrypt MUST fail.
      needs(materials.plaintextDataKey !== undefined, 'MultiKeyring: no generator and no data key');
    }
    //= aws-encryption-sdk-specification/framework/multi-keyring.md#onencrypt
    //# Next, for each keyring in this keyring's list of child keyrings,
    //# the keyring MUST call OnEncrypt.
    //= aws-encryption-sdk-specification/framework/multi-keyring.md#onencrypt
    //# If the child keyring's OnEncrypt fails, this OnEncrypt MUST also fail.
    for (const child of this.children) await child.onEncrypt(materials);
    return materials;
  }

  async onDecrypt(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    //= aws-encryption-sdk-specification/framework/multi-keyring.md#ondecrypt
    //# If the decryption materials already contain a plaintext data key,
    //# the keyring MUST fail
    //# and MUST NOT modify the decryption materials.
    needs(
      materials.plaintextDataKey === undefined,
      'MultiKeyring: the decryption materials already hold a data key',
      decryptionError,
    );
    //= aws-encryption-sdk-specification/framework/multi-keyring.md#ondecrypt
    //# Otherwise, OnDecrypt MUST first attempt to decrypt the encrypted data keys
    //# in the input decryption materials using its
    //# generator keyring. If the generator keyring is unable to decrypt
    //# the materials, the multi-keyring MUST attempt to decrypt using its child keyrings,
    //# until one either succeeds in decryption or all have failed.
    const all = this.generator ? [this.generator, ...this.children] : this.children;
    const errors: unknown[] = [];
    for (const k of all) {
      //= aws-encryption-sdk-specification/framework/multi-keyring.md#ondecrypt
      //# For each keyring to be used for decryption,
      //# the multi-keyring MUST call that keyring's OnDecrypt using
      //# the unmodified decryption materials and the input
      //# encrypted data key list.
      try {
        await k.onDecrypt(materials, edks);
      } catch (e) {
        //= aws-encryption-sdk-specification/framework/multi-keyring.md#ondecrypt
        //# If the child keyring's OnDecrypt call fails, the multi-keyring MUST collect the error and
        //# continue to the next keyring, if any.
        errors.push(e);
        continue;
      }
      //= aws-encryption-sdk-specification/framework/multi-keyring.md#ondecrypt
      //# If OnDecrypt returns decryption materials
      //# containing a plaintext data key, the multi-keyring MUST immediately return the modified
      //# decryption materials.
      if (materials.plaintextDataKey !== undefined) return materials;
    }
    //= aws-encryption-sdk-specification/framework/multi-keyring.md#ondecrypt
    //# If, after calling OnDecrypt on every child keyring
    //# (and possibly the generator keyring), the decryption materials
    //# still do not contain a plaintext data key, OnDecrypt MUST return a failure message containing
    //# the collected failure messages from the child keyrings.
    throw collectedFailure('MultiKeyring: no keyring could decrypt a data key', errors);
  }
}

/**
 * A keyring's OnDecrypt failure after it tried and failed: a `DecryptionError` whose message ends with
 * the collected failure messages (the multi-keyring and AWS KMS keyring specifications require them in
 * the failure) and whose `cause` is an `AggregateError` of the collected errors themselves. The messages
 * are ours or AWS KMS's, neither of which carries key material or encryption-context values. @internal
 */
export function collectedFailure(message: string, errors: readonly unknown[]): DecryptionError {
  const detail =
    errors.length === 0
      ? 'no encrypted data key matched'
      : errors.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))).join('; ');
  return new DecryptionError(`${message} (${detail})`, {
    cause: new AggregateError(errors, message),
  });
}
