import { randomUUID, type KeyObject } from 'node:crypto';
import { DataKeyCache, needs, type DataKeyCacheKey } from '@steadykms/core';
import type { EncryptedDataKey } from '../format/header.js';
import { serializeEncryptionContext, type EncryptionContext } from '../format/encryptionContext.js';
import type { AlgorithmSuite } from '../suites.js';
import type { Keyring } from '../keyrings/types.js';
import {
  DefaultMaterialsManager,
  type DecryptionMaterialsRequest,
  type DecryptionMaterialsResult,
  type EncryptionMaterialsRequest,
  type EncryptionMaterialsResult,
  type MaterialsManager,
} from './DefaultMaterialsManager.js';

/** What the caching manager keeps per entry; `plaintext` is the data key (zeroed by the cache). */
export interface CachedMaterials {
  readonly plaintext: Buffer;
  readonly suite: AlgorithmSuite;
  readonly encryptionContext: EncryptionContext;
  readonly requiredEncryptionContextKeys: readonly string[];
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly signingKey: KeyObject | undefined;
  readonly verificationKey: KeyObject | undefined;
}

/** Options of {@link CachingMaterialsManager}. */
export interface CachingMaterialsManagerOptions {
  /** Keyring of the default manager that fills the cache. Give this or `backingMaterialsManager`. */
  readonly keyring?: Keyring;
  /** Manager that fills the cache. */
  readonly backingMaterialsManager?: MaterialsManager;
  /**
   * Longest a data key is reused, milliseconds (the ESDK's `maxAge`). Required. Ignored when `cache` is
   * given (the cache's own `maxAgeMs` applies).
   */
  readonly maxAgeMs: number;
  /** Most messages one data key encrypts. @defaultValue 2^32 */
  readonly maxMessagesEncrypted?: number;
  /** Most plaintext bytes one data key encrypts. @defaultValue `Number.MAX_SAFE_INTEGER` */
  readonly maxBytesEncrypted?: number;
  /** Entries kept. @defaultValue 1000 */
  readonly capacity?: number;
  /**
   * Managers with different partitions never share entries even on one cache. @defaultValue a random UUID
   * (so by default nothing is shared between managers).
   */
  readonly partition?: string;
  /** A cache to share between managers; its own limits then apply. @defaultValue a cache of its own */
  readonly cache?: DataKeyCache<CachedMaterials>;
}

/**
 * The ESDK's caching materials manager on `@steadykms/core`'s {@link DataKeyCache}: a data key (with its
 * EDKs and, for signed suites, its signing key) is reused for many messages within `maxAgeMs`,
 * `maxMessagesEncrypted` and `maxBytesEncrypted`; decryption materials are reused for messages that carry
 * the same EDKs and context. Concurrent misses share one keyring call.
 *
 * Encrypt requests of unknown length (streams without `plaintextLength`) bypass the cache, because their
 * bytes cannot be counted against the limit before the key is handed out.
 */
export class CachingMaterialsManager implements MaterialsManager {
  readonly partition: string;
  readonly cache: DataKeyCache<CachedMaterials>;
  readonly #backing: MaterialsManager;
  readonly #ownsCache: boolean;

  constructor(options: CachingMaterialsManagerOptions) {
    needs(
      (options.keyring === undefined) !== (options.backingMaterialsManager === undefined),
      'CachingMaterialsManager: give exactly one of keyring and backingMaterialsManager',
    );
    this.#backing =
      options.backingMaterialsManager ?? new DefaultMaterialsManager(options.keyring as Keyring);
    this.partition = options.partition ?? randomUUID();
    this.#ownsCache = options.cache === undefined;
    this.cache =
      options.cache ??
      new DataKeyCache<CachedMaterials>({
        maxEntries: options.capacity ?? 1000,
        maxAgeMs: options.maxAgeMs,
        ...(options.maxMessagesEncrypted !== undefined
          ? { maxMessages: options.maxMessagesEncrypted }
          : {}),
        ...(options.maxBytesEncrypted !== undefined ? { maxBytes: options.maxBytesEncrypted } : {}),
      });
  }

  async getEncryptionMaterials(
    request: EncryptionMaterialsRequest,
  ): Promise<EncryptionMaterialsResult> {
    if (request.plaintextLength === undefined) return this.#backing.getEncryptionMaterials(request);
    const key: DataKeyCacheKey = {
      keyId: 'encrypt',
      encryptionContext: request.encryptionContext,
      keySpec: request.suite.id,
      partition: this.partition,
      parts: request.requiredEncryptionContextKeys,
    };
    const lease = await this.cache.getOrLoad(
      key,
      { bytes: request.plaintextLength, messages: 1 },
      async () => {
        const m = await this.#backing.getEncryptionMaterials(request);
        return {
          plaintext: m.plaintextDataKey,
          suite: m.suite,
          encryptionContext: m.encryptionContext,
          requiredEncryptionContextKeys: m.requiredEncryptionContextKeys,
          encryptedDataKeys: m.encryptedDataKeys,
          signingKey: m.signingKey,
          verificationKey: undefined,
        };
      },
    );
    try {
      const v = lease.value;
      return {
        suite: v.suite,
        encryptionContext: v.encryptionContext,
        requiredEncryptionContextKeys: v.requiredEncryptionContextKeys,
        // The caller zeroes its copy after use; the cache zeroes the original when the entry leaves.
        plaintextDataKey: Buffer.from(v.plaintext),
        encryptedDataKeys: v.encryptedDataKeys,
        signingKey: v.signingKey,
      };
    } finally {
      lease.release();
    }
  }

  async decryptMaterials(request: DecryptionMaterialsRequest): Promise<DecryptionMaterialsResult> {
    const parts: Array<string | Uint8Array> = [];
    for (const e of request.encryptedDataKeys) {
      parts.push(e.providerId, e.providerInfo, e.encryptedDataKey);
    }
    parts.push(serializeEncryptionContext(request.reproducedEncryptionContext ?? {}));
    const key: DataKeyCacheKey = {
      keyId: 'decrypt',
      encryptionContext: request.encryptionContext,
      keySpec: request.suite.id,
      partition: this.partition,
      parts,
    };
    const lease = await this.cache.getOrLoad(key, { bytes: 0, messages: 0 }, async () => {
      const m = await this.#backing.decryptMaterials(request);
      return {
        plaintext: m.plaintextDataKey,
        suite: m.suite,
        encryptionContext: m.encryptionContext,
        requiredEncryptionContextKeys: m.requiredEncryptionContextKeys,
        encryptedDataKeys: request.encryptedDataKeys,
        signingKey: undefined,
        verificationKey: m.verificationKey,
      };
    });
    try {
      const v = lease.value;
      return {
        suite: v.suite,
        encryptionContext: v.encryptionContext,
        requiredEncryptionContextKeys: v.requiredEncryptionContextKeys,
        plaintextDataKey: Buffer.from(v.plaintext),
        verificationKey: v.verificationKey,
      };
    } finally {
      lease.release();
    }
  }

  /** Stops the cache's sweep timer and zeroes every entry (only for a cache this manager created). */
  close(): void {
    if (this.#ownsCache) this.cache.close();
  }
}
