import { InvalidOptionError, needs } from '@steadykms/core';
import type { Keyring } from '../keyrings/types.js';
import {
  DefaultMaterialsManager,
  type MaterialsManager,
} from '../materials/DefaultMaterialsManager.js';
import { DEFAULT_COMMITMENT_POLICY, type CommitmentPolicy } from '../suites.js';
import { RESERVED_CONTEXT_PREFIX, type EncryptionContext } from '../format/encryptionContext.js';

/** Exactly one source of data keys: a keyring (wrapped in the default materials manager) or a manager. */
export type MaterialsSource =
  | { readonly keyring: Keyring; readonly materialsManager?: never }
  | { readonly materialsManager: MaterialsManager; readonly keyring?: never };

const managers = new WeakMap<Keyring, MaterialsManager>();

/** @internal */
export function resolveManager(o: {
  keyring?: Keyring | undefined;
  materialsManager?: MaterialsManager | undefined;
}): MaterialsManager {
  if (o.materialsManager !== undefined) {
    needs(o.keyring === undefined, 'give either keyring or materialsManager, not both');
    return o.materialsManager;
  }
  const k = o.keyring;
  needs(
    k !== undefined && typeof k.onEncrypt === 'function',
    'keyring (or materialsManager) is required',
  );
  let m = managers.get(k);
  if (!m) {
    m = new DefaultMaterialsManager(k);
    managers.set(k, m);
  }
  return m;
}

/** @internal */
export function resolvePolicy(p: CommitmentPolicy | undefined): CommitmentPolicy {
  if (p === undefined) return DEFAULT_COMMITMENT_POLICY;
  needs(
    p === 'FORBID_ENCRYPT_ALLOW_DECRYPT' ||
      p === 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' ||
      p === 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT',
    'commitmentPolicy: unknown policy',
  );
  return p;
}

/** @internal */
export function resolveMaxEdks(n: number | undefined): number {
  if (n === undefined) return Infinity;
  needs(Number.isInteger(n) && n >= 1, 'maxEncryptedDataKeys must be a positive integer');
  return n;
}

const EMPTY_CONTEXT: EncryptionContext = Object.freeze({});

/** @internal Validates the caller's encryption context on encrypt. */
export function checkEncryptContext(ctx: EncryptionContext | undefined): EncryptionContext {
  if (ctx === undefined) return EMPTY_CONTEXT;
  for (const k in ctx) {
    //= aws-encryption-sdk-specification/client-apis/encrypt.md#encryption-context
    //# The prefix `aws-crypto-` is reserved for internal use by the AWS Encryption SDK; see the the
    //# Default CMM spec for one such use.
    //# If the input encryption context contains any entries with a key beginning with this prefix,
    //# the encryption operation MUST fail.
    if (k.startsWith(RESERVED_CONTEXT_PREFIX)) {
      throw new InvalidOptionError(
        `encryptionContext: keys starting with "${RESERVED_CONTEXT_PREFIX}" are reserved`,
      );
    }
    if (typeof ctx[k] !== 'string')
      throw new InvalidOptionError('encryptionContext: values must be strings');
  }
  return ctx;
}

/** @internal */
export function toBytes(input: Uint8Array | string, encoding: 'utf8' | 'base64'): Buffer {
  if (typeof input === 'string') return Buffer.from(input, encoding);
  if (Buffer.isBuffer(input)) return input;
  needs(input instanceof Uint8Array, 'input must be a Buffer, Uint8Array or string');
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}
