import type { KeyObject } from 'node:crypto';
import { randomBytesPooled } from './random.js';
import { InvalidOptionError, needs } from '@steadykms/core';
import { serializeHeaderBody, ContentType } from '../format/header.js';
import { serializeEncryptionContext, type EncryptionContext } from '../format/encryptionContext.js';
import { MAX_FRAMES, frameCounts } from '../format/body.js';
import {
  getSuite,
  DEFAULT_FRAME_LENGTH,
  type AlgorithmSuite,
  type CommitmentPolicy,
  type EncryptSuiteId,
} from '../suites.js';
import type { Keyring } from '../keyrings/types.js';
import type {
  EncryptionMaterialsRequest,
  EncryptionMaterialsResult,
  MaterialsManager,
} from '../materials/DefaultMaterialsManager.js';
import { deriveKeys } from './kdf.js';
import { FrameCipher, headerTag } from './FrameCipher.js';
import { checkEncryptContext, resolveManager, resolveMaxEdks, resolvePolicy } from './options.js';

/** Options shared by every encrypt API. */
export interface EncryptOptionsBase {
  /** Keyring that generates and wraps the data key. Give this or `materialsManager`. */
  readonly keyring?: Keyring;
  /** Materials manager (e.g. the caching one). Give this or `keyring`. */
  readonly materialsManager?: MaterialsManager;
  /** Non-secret pairs bound to the message. Keys starting with `aws-crypto-` are refused. */
  readonly encryptionContext?: EncryptionContext;
  /**
   * Keys of `encryptionContext` that are authenticated but not stored in the message: decrypt must be
   * given them again (the ESDK's required encryption context).
   */
  readonly requiredEncryptionContextKeys?: readonly string[];
  /** @defaultValue `0x0578` (AES-256-GCM, HKDF-SHA512, key commitment, ECDSA P-384), the ESDK default. */
  readonly suite?: EncryptSuiteId;
  /** Plaintext bytes per frame, 1 to 2^32 - 1. @defaultValue `4096` */
  readonly frameLength?: number;
  /** @defaultValue `'REQUIRE_ENCRYPT_REQUIRE_DECRYPT'` */
  readonly commitmentPolicy?: CommitmentPolicy;
  /** Fail when the keyring produced more encrypted data keys than this. @defaultValue no limit */
  readonly maxEncryptedDataKeys?: number;
}

/** A message being written: its header, frame cipher and signing key. @internal */
export interface EncryptSession {
  readonly suite: AlgorithmSuite;
  readonly frameLength: number;
  readonly messageId: Buffer;
  /** Header body and header authentication, followed by `extra` spare bytes. */
  readonly buffer: Buffer;
  /** Bytes of `buffer` holding the header (body plus authentication). */
  readonly headerLength: number;
  /** The message's frame cipher (whole-message encrypt and streams alike); owns the content key. */
  readonly frames: FrameCipher;
  readonly signingKey: KeyObject | undefined;
  readonly encryptionContext: EncryptionContext;
}

/** Materials plus the resolved options a message needs. @internal */
export interface PreparedEncrypt {
  readonly materials: EncryptionMaterialsResult;
  readonly frameLength: number;
  readonly maxEdks: number;
  /**
   * `materials.encryptionContext` serialised, when the caller already has it (the synchronous raw AES
   * path): the header reuses it instead of serialising the context a second time.
   */
  readonly serializedContext?: Buffer | undefined;
}

/** @internal */
export async function startEncrypt(
  options: EncryptOptionsBase,
  plaintextLength: number | undefined,
  extra: (s: { suite: AlgorithmSuite; frameLength: number }) => number,
): Promise<EncryptSession> {
  return startEncryptWith(await prepareEncrypt(options, plaintextLength), extra);
}

/** Validates the options and gets the materials (the part that calls keyrings, so it stays on the calling thread). @internal */
export async function prepareEncrypt(
  options: EncryptOptionsBase,
  plaintextLength: number | undefined,
): Promise<PreparedEncrypt> {
  const r = resolveEncrypt(options, plaintextLength);
  const m = await r.manager.getEncryptionMaterials(r.request);
  return { materials: m, frameLength: r.frameLength, maxEdks: r.maxEdks };
}

/** Validated encrypt options and the request for the materials manager. @internal */
export interface ResolvedEncrypt {
  readonly manager: MaterialsManager;
  readonly request: EncryptionMaterialsRequest;
  readonly frameLength: number;
  readonly maxEdks: number;
}

/** Validates the options (everything before the materials manager is asked). @internal */
export function resolveEncrypt(
  options: EncryptOptionsBase,
  plaintextLength: number | undefined,
): ResolvedEncrypt {
  const manager = resolveManager(options);
  const policy = resolvePolicy(options.commitmentPolicy);
  //= aws-encryption-sdk-specification/framework/commitment-policy.md#esdkforbid_encrypt_allow_decrypt
  //# Get Encryption Materials MUST only support algorithm suites that have a Key Commitment value
  //# of False
  // Deviation: under FORBID_ENCRYPT_ALLOW_DECRYPT this package refuses to encrypt at all instead of
  // encrypting with a non-committing suite, because we write only committing suites. The policy is
  // still accepted for decryption, where it allows the legacy non-committing suites.
  if (policy === 'FORBID_ENCRYPT_ALLOW_DECRYPT') {
    throw new InvalidOptionError(
      'commitmentPolicy FORBID_ENCRYPT_ALLOW_DECRYPT: this package only encrypts with key commitment',
    );
  }
  const suiteId = options.suite ?? 0x0578;
  const suite = getSuite(suiteId);
  needs(suite !== undefined && suite.committing, 'suite: only 0x0478 and 0x0578 can encrypt');
  const frameLength = options.frameLength ?? DEFAULT_FRAME_LENGTH;
  needs(
    Number.isInteger(frameLength) && frameLength >= 1 && frameLength <= 0xffffffff,
    'frameLength must be an integer from 1 to 2^32 - 1',
  );
  if (plaintextLength !== undefined) {
    needs(
      frameCounts(plaintextLength, frameLength).regular + 1 <= MAX_FRAMES,
      'plaintext needs more than 2^32 - 2 frames',
    );
  }
  const maxEdks = resolveMaxEdks(options.maxEncryptedDataKeys);
  const context = checkEncryptContext(options.encryptionContext);
  const required = options.requiredEncryptionContextKeys ?? NO_KEYS;
  for (const k of required) {
    needs(
      Object.prototype.hasOwnProperty.call(context, k),
      'requiredEncryptionContextKeys: every key must be in encryptionContext',
    );
  }
  return {
    manager,
    request: {
      suite,
      encryptionContext: context,
      requiredEncryptionContextKeys: required,
      plaintextLength,
    },
    frameLength,
    maxEdks,
  };
}

const NO_KEYS: readonly string[] = Object.freeze([]);

/** Writes the header of a message from prepared materials (pure CPU; may run in a worker). @internal */
export function startEncryptWith(
  prepared: PreparedEncrypt,
  extra: (s: { suite: AlgorithmSuite; frameLength: number }) => number,
): EncryptSession {
  const { materials: m, frameLength, maxEdks } = prepared;
  const suite = m.suite;
  const dataKey = m.plaintextDataKey;
  try {
    //= aws-encryption-sdk-specification/client-apis/encrypt.md#get-the-encryption-materials
    //# If the number of encrypted data keys on the encryption materials is greater than the maximum number of encrypted data keys configured in the client encrypt MUST yield an error.
    if (m.encryptedDataKeys.length > maxEdks) {
      throw new InvalidOptionError(
        `the keyring produced ${m.encryptedDataKeys.length} encrypted data keys, more than maxEncryptedDataKeys ${maxEdks}`,
      );
    }
    const messageId = randomBytesPooled(32);
    const keys = deriveKeys(suite, dataKey, messageId);
    let stored: EncryptionContext = m.encryptionContext;
    let authOnly: Buffer = EMPTY;
    if (m.requiredEncryptionContextKeys.length > 0) {
      const s: Record<string, string> = { ...m.encryptionContext };
      const a: Record<string, string> = {};
      for (const k of m.requiredEncryptionContextKeys) {
        a[k] = s[k] as string;
        delete s[k];
      }
      stored = s;
      authOnly = serializeEncryptionContext(a);
    }
    const { buf, length } = serializeHeaderBody(
      {
        suite,
        messageId,
        // The manager's serialisation of the full context is the header's when nothing is held back.
        serializedContext:
          stored === m.encryptionContext && prepared.serializedContext !== undefined
            ? prepared.serializedContext
            : serializeEncryptionContext(stored),
        encryptedDataKeys: m.encryptedDataKeys,
        contentType: ContentType.FRAMED,
        frameLength,
        //= aws-encryption-sdk-specification/framework/algorithm-suites.md#supported-algorithm-suite-data
        //# Algorithm Suite 05 78 MUST store the commit key in the suite data
        //# Algorithm Suite 04 78 MUST store the commit key in the suite data
        suiteData: keys.commitKey as Buffer,
      },
      suite.tagLength + extra({ suite, frameLength }),
    );
    //= aws-encryption-sdk-specification/client-apis/encrypt.md#construct-the-header
    //# The AAD MUST be the concatenation of the serialized message header body and the serialization of encryption context to only authenticate.
    const tag = headerTag(suite, keys.key, ZERO_IV, buf.subarray(0, length), authOnly);
    tag.copy(buf, length);
    keys.commitKey?.fill(0);
    return new Session(
      suite,
      frameLength,
      messageId,
      buf,
      length + suite.tagLength,
      keys.key,
      m.signingKey,
      m.encryptionContext,
    );
  } finally {
    dataKey.fill(0);
  }
}

/** An {@link EncryptSession}; a class, since an object literal with a getter cost closures per message. */
class Session implements EncryptSession {
  readonly frames: FrameCipher;

  constructor(
    readonly suite: AlgorithmSuite,
    readonly frameLength: number,
    readonly messageId: Buffer,
    readonly buffer: Buffer,
    readonly headerLength: number,
    key: Buffer,
    readonly signingKey: KeyObject | undefined,
    readonly encryptionContext: EncryptionContext,
  ) {
    this.frames = new FrameCipher(suite, key, messageId);
  }
}

const EMPTY: Buffer = Buffer.alloc(0);
const ZERO_IV = Buffer.alloc(12);

/** Largest DER ECDSA signature for the suite's curve, plus the 2-byte footer length. */
export function maxFooterLength(suite: AlgorithmSuite): number {
  if (!suite.signature) return 0;
  const n = suite.signature.curve === 'secp384r1' ? 48 : 32;
  return 2 + 2 + 2 * (3 + n);
}
