import type { EncryptedDataKey } from '../format/header.js';
import type { EncryptionContext } from '../format/encryptionContext.js';
import type { AlgorithmSuite } from '../suites.js';

/**
 * Materials a keyring fills in on encrypt: the generator sets `plaintextDataKey` (when it is unset) and
 * every keyring appends an encrypted copy to `encryptedDataKeys`.
 */
export interface EncryptionMaterials {
  readonly suite: AlgorithmSuite;
  /** The full encryption context (stored pairs, authenticate-only pairs and the signing public key). */
  readonly encryptionContext: EncryptionContext;
  /** The serialised `encryptionContext` (zero bytes when empty): raw AES keyrings use it as AAD. */
  readonly serializedContext: Buffer;
  plaintextDataKey: Buffer | undefined;
  readonly encryptedDataKeys: EncryptedDataKey[];
}

/** Materials a keyring fills in on decrypt: it sets `plaintextDataKey` when it can unwrap an EDK. */
export interface DecryptionMaterials {
  readonly suite: AlgorithmSuite;
  readonly encryptionContext: EncryptionContext;
  readonly serializedContext: Buffer;
  plaintextDataKey: Buffer | undefined;
}

/**
 * A keyring wraps and unwraps data keys. As the ESDK specification requires, `onDecrypt` fails (rejects,
 * with a `DecryptionError` naming why) when the materials already hold a data key or when it could not
 * decrypt any of the EDKs, and then leaves the materials unchanged; EDKs that are not its own are skipped,
 * not errors. `MultiKeyring` collects a child's failure and tries the next child; the materials manager
 * turns a final failure into the `DecryptionError` that `decrypt` throws, with the keyring's as `cause`.
 */
export interface Keyring {
  onEncrypt(materials: EncryptionMaterials): Promise<EncryptionMaterials>;
  onDecrypt(
    materials: DecryptionMaterials,
    encryptedDataKeys: readonly EncryptedDataKey[],
  ): Promise<DecryptionMaterials>;
}

/**
 * A keyring that can also do its work synchronously because it needs no I/O (the raw AES keyring).
 * `encrypt` and `decrypt` then skip every promise between the call and the cipher work, which is a
 * measurable share of a small message's cost. The asynchronous methods must behave exactly alike.
 * @internal
 */
export interface SyncKeyring extends Keyring {
  onEncryptSync(materials: EncryptionMaterials): EncryptionMaterials;
  onDecryptSync(
    materials: DecryptionMaterials,
    encryptedDataKeys: readonly EncryptedDataKey[],
  ): DecryptionMaterials;
}

/** True when `k` offers the synchronous methods of {@link SyncKeyring}. @internal */
export function isSyncKeyring(k: Keyring): k is SyncKeyring {
  const s = k as Partial<SyncKeyring>;
  return typeof s.onEncryptSync === 'function' && typeof s.onDecryptSync === 'function';
}
