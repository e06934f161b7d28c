import { needs } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './types.js';

/** Options of {@link MultiKeyring}. */
export interface MultiKeyringOptions {
  /** Generates the data key on encrypt (and wraps it). Optional when the materials already hold a key. */
  readonly generator?: Keyring;
  /** Each wraps the data key too; on decrypt, tried in order after the generator. */
  readonly children?: readonly Keyring[];
}

/**
 * Combines keyrings: on encrypt every keyring wraps the same data key, so any one of them can decrypt; on
 * decrypt the generator then the children are tried in order until one unwraps a data key.
 */
export class MultiKeyring implements Keyring {
  readonly generator: Keyring | undefined;
  readonly children: readonly Keyring[];

  constructor(options: MultiKeyringOptions) {
    needs(
      options.generator !== undefined || (options.children?.length ?? 0) > 0,
      'MultiKeyring: a generator or a child is required',
    );
    this.generator = options.generator;
    this.children = [...(options.children ?? [])];
  }

  async onEncrypt(materials: EncryptionMaterials): Promise<EncryptionMaterials> {
    //= aws-encryption-sdk-specification/framework/multi-keyring.md#onencrypt
    //# If this keyring does not have a generator keyring, and the input encryption materials does not include a plaintext data key, OnEncrypt MUST fail.
    needs(
      this.generator !== undefined || materials.plaintextDataKey !== undefined,
      'MultiKeyring: no generator and no data key',
    );
    if (this.generator) await this.generator.onEncrypt(materials);
    needs(
      materials.plaintextDataKey !== undefined,
      'MultiKeyring: the generator did not produce a data key',
    );
    for (const child of this.children) await child.onEncrypt(materials);
    return materials;
  }

  async onDecrypt(
    materials: DecryptionMaterials,
    edks: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials> {
    const all = this.generator ? [this.generator, ...this.children] : this.children;
    const errors: unknown[] = [];
    for (const k of all) {
      if (materials.plaintextDataKey !== undefined) break;
      try {
        await k.onDecrypt(materials, edks);
      } catch (e) {
        //= aws-encryption-sdk-specification/framework/multi-keyring.md#ondecrypt
        //# If the child keyring's OnDecrypt call fails, the multi-keyring MUST collect the error and continue to the next keyring, if any.
        errors.push(e);
      }
    }
    if (materials.plaintextDataKey === undefined && errors.length > 0) {
      throw new AggregateError(errors, 'MultiKeyring: no keyring could decrypt a data key');
    }
    return materials;
  }
}
