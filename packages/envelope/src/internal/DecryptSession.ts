import type { KeyObject } from 'node:crypto';
import type { Keyring } from '../keyrings/types.js';
import {
  DefaultMaterialsManager,
  type DecryptionMaterialsRequest,
  type DecryptionMaterialsResult,
  type MaterialsManager,
} from '../materials/DefaultMaterialsManager.js';
import type { MessageHeader, ParsedHeader } from '../format/header.js';
import type { ParsedFrame } from '../format/body.js';
import { serializeEncryptionContext, type EncryptionContext } from '../format/encryptionContext.js';
import { decryptAllowed, type CommitmentPolicy } from '../suites.js';
import { decryptionError, formatError } from '../errors.js';
import { deriveKeys, verifyCommitment } from './kdf.js';
import { FrameCipher, verifyHeaderTag } from './FrameCipher.js';
import { resolveManager, resolveMaxEdks, resolvePolicy } from './options.js';

/** Options shared by every decrypt API. */
export interface DecryptOptionsBase {
  /** Keyring that unwraps the data key. Give this or `materialsManager`. */
  readonly keyring?: Keyring;
  /** Materials manager (e.g. the caching one). Give this or `keyring`. */
  readonly materialsManager?: MaterialsManager;
  /**
   * Encryption context you expect (the ESDK's reproduced encryption context). Pairs the message stores
   * must have equal values; pairs it does not store are authenticated as the encryptor's required
   * encryption context. Decrypt fails on any mismatch.
   */
  readonly encryptionContext?: EncryptionContext;
  /** Keys that must be present in `encryptionContext` (the required-encryption-context CMM). */
  readonly requiredEncryptionContextKeys?: readonly string[];
  /** @defaultValue `'REQUIRE_ENCRYPT_REQUIRE_DECRYPT'` (only committing messages decrypt) */
  readonly commitmentPolicy?: CommitmentPolicy;
  /** Refuse messages with more encrypted data keys than this. @defaultValue no limit */
  readonly maxEncryptedDataKeys?: number;
  /**
   * Refuse signed messages right after the header (the ESDK's `decryptUnsignedMessageStream`): for callers
   * that must never see plaintext before the end of the message is known good and that only expect 0x0478.
   * @defaultValue false
   */
  readonly unsignedOnly?: boolean;
}

/** Resolved decrypt options. @internal */
export interface ResolvedDecrypt {
  readonly manager: MaterialsManager;
  readonly policy: CommitmentPolicy;
  readonly maxEdks: number;
  readonly reproduced: EncryptionContext | undefined;
  readonly requiredKeys: readonly string[];
  readonly unsignedOnly: boolean;
}

/** @internal */
export function resolveDecrypt(o: DecryptOptionsBase): ResolvedDecrypt {
  return {
    manager: resolveManager(o),
    policy: resolvePolicy(o.commitmentPolicy),
    maxEdks: resolveMaxEdks(o.maxEncryptedDataKeys),
    reproduced: o.encryptionContext,
    requiredKeys: o.requiredEncryptionContextKeys ?? [],
    unsignedOnly: o.unsignedOnly ?? false,
  };
}

/** State of a message being decrypted once its header verified. @internal */
export class DecryptSession {
  readonly header: MessageHeader;
  readonly encryptionContext: EncryptionContext;
  readonly verificationKey: KeyObject | undefined;
  readonly #body: FrameCipher;
  #next = 1;
  #done = false;

  private constructor(
    header: MessageHeader,
    context: EncryptionContext,
    key: Buffer,
    vk: KeyObject | undefined,
  ) {
    this.header = header;
    this.encryptionContext = context;
    this.#body = new FrameCipher(header.suite, key, header.messageId);
    this.verificationKey = vk;
  }

  /** Gets materials, checks the commitment and the header tag. */
  static async start(parsed: ParsedHeader, o: ResolvedDecrypt): Promise<DecryptSession> {
    return DecryptSession.fromMaterials(parsed, await DecryptSession.materials(parsed, o));
  }

  /** Checks the policy and required keys, then asks the materials manager (the part that calls keyrings). */
  static async materials(
    parsed: ParsedHeader,
    o: ResolvedDecrypt,
  ): Promise<DecryptionMaterialsResult> {
    return o.manager.decryptMaterials(DecryptSession.request(parsed, o));
  }

  /**
   * {@link materials} without a promise when the manager can answer synchronously (the default manager
   * with a raw AES keyring, unsigned suites); `undefined` when it cannot. Throws what `materials` rejects
   * with.
   */
  static materialsSync(
    parsed: ParsedHeader,
    o: ResolvedDecrypt,
  ): DecryptionMaterialsResult | undefined {
    const m = o.manager;
    if (!(m instanceof DefaultMaterialsManager)) return undefined;
    return m.decryptSync(DecryptSession.request(parsed, o), parsed.serializedContext);
  }

  /** The checks that come before any keyring call, and the request for the materials manager. */
  static request(parsed: ParsedHeader, o: ResolvedDecrypt): DecryptionMaterialsRequest {
    const { header } = parsed;
    const { suite } = header;
    //= aws-encryption-sdk-specification/client-apis/decrypt.md#get-the-decryption-materials
    //# If the parsed algorithm suite ID is not supported by the commitment policy configured in the client decrypt MUST yield an error.
    if (!decryptAllowed(o.policy, suite)) {
      throw decryptionError(
        `commitment policy ${o.policy} refuses suite 0x${suite.id.toString(16).padStart(4, '0')} (no key commitment)`,
      );
    }
    //= aws-encryption-sdk-specification/client-apis/decrypt.md#behavior
    //# The ESDK MUST provide a configuration option that causes the decryption operation to fail immediately after parsing the header if a signed algorithm suite is used.
    if (o.unsignedOnly && suite.signature) {
      throw decryptionError('unsignedOnly: the message uses a signed algorithm suite');
    }
    for (const k of o.requiredKeys) {
      //= aws-encryption-sdk-specification/framework/required-encryption-context-cmm.md#decrypt-materials
      //# The reproduced encryption context on the decrypt materials request MUST contain a value
      //# for every key in the configured required encryption context keys or this request MUST
      //# fail.
      if (o.reproduced === undefined || !Object.prototype.hasOwnProperty.call(o.reproduced, k)) {
        throw decryptionError(
          `required encryption context key ${JSON.stringify(k)} was not supplied`,
        );
      }
    }
    return {
      suite,
      encryptionContext: header.encryptionContext,
      encryptedDataKeys: header.encryptedDataKeys,
      reproducedEncryptionContext: o.reproduced,
    };
  }

  /** Derives the keys, checks the commitment and the header tag (pure CPU; may run in a worker). */
  static fromMaterials(parsed: ParsedHeader, m: DecryptionMaterialsResult): DecryptSession {
    const { header } = parsed;
    const { suite } = header;
    const dataKey = m.plaintextDataKey;
    let key: Buffer | undefined;
    try {
      const keys = deriveKeys(suite, dataKey, header.messageId);
      key = keys.key;
      if (keys.commitKey) {
        verifyCommitment(keys.commitKey, header.suiteData);
        keys.commitKey.fill(0);
      }
      let authOnly: Buffer = EMPTY;
      if (m.requiredEncryptionContextKeys.length > 0) {
        const a: Record<string, string> = {};
        for (const k of m.requiredEncryptionContextKeys) {
          if (!Object.prototype.hasOwnProperty.call(header.encryptionContext, k))
            a[k] = m.encryptionContext[k] as string;
        }
        authOnly = serializeEncryptionContext(a);
      }
      //= aws-encryption-sdk-specification/client-apis/decrypt.md#verify-the-header
      //# The AAD MUST be the concatenation of the serialized message header body and the serialization of encryption context to only authenticate.
      verifyHeaderTag(suite, key, parsed.headerIv, parsed.headerBody, authOnly, parsed.headerTag);
      return new DecryptSession(header, m.encryptionContext, key, m.verificationKey);
    } catch (e) {
      key?.fill(0);
      throw e;
    } finally {
      dataKey.fill(0);
    }
  }

  /** The message's `FrameCipher` (the streams seal and open frame batches through it). @internal */
  get frames(): FrameCipher {
    return this.#body;
  }

  /** True once the final frame (or the non-framed body) has been decrypted. */
  get done(): boolean {
    return this.#done;
  }

  /** Decrypts one frame, checking its sequence number. */
  decryptFrame(f: ParsedFrame): Buffer {
    if (this.#done) throw formatError('body: data after the final frame');
    const nonFramed = this.header.contentType === 1;
    //= aws-encryption-sdk-specification/client-apis/decrypt.md#decrypt-the-message-body
    //# Otherwise, this value MUST be 1 greater than the value of the sequence number of the previous frame.
    if (f.sequenceNumber !== this.#next)
      throw formatError(`body: frame sequence number ${f.sequenceNumber}, expected ${this.#next}`);
    const out = this.#body.decrypt(
      nonFramed ? 2 : f.final ? 1 : 0,
      f.sequenceNumber,
      f.iv,
      f.ciphertext,
      f.tag,
    );
    this.#next++;
    if (f.final) this.#done = true;
    return out;
  }

  /** Zeroes the content key. */
  destroy(): void {
    // One content key, shared by both ciphers.
    this.#body.destroy();
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

/** @internal */
export function badSignature(): Error {
  //= aws-encryption-sdk-specification/client-apis/decrypt.md#verify-the-signature
  //# If this verification is not successful, this operation MUST immediately halt and fail.
  return decryptionError('message signature did not verify');
}
