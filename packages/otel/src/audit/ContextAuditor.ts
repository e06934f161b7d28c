import { createHmac, randomBytes } from 'node:crypto';
import type { Attributes } from '@opentelemetry/api';
import { InvalidOptionError } from '@steadykms/core';
import { ATTR_ENCRYPTION_CONTEXT_KEYS, ATTR_ENCRYPTION_CONTEXT_PREFIX } from '../attributes.js';

/** Prefix of a hashed encryption-context value. */
export const HASHED_VALUE_PREFIX = 'hmac-sha256:';

// One random key per process, made on first use, so that every instrumentation in the process hashes equal
// values equally (correlation across clients) while no two processes do (no dictionary across a fleet).
let processKey: Buffer | undefined;

function defaultKey(): Buffer {
  processKey ??= randomBytes(32);
  return processKey;
}

// Hashing is the one per-call cost that grows with the context; a small memo keeps a hot context (the same
// tenant id on every call) from paying it again. Cleared whole when full: simpler than LRU, and a miss only
// costs one HMAC.
const MEMO_LIMIT = 1024;

/**
 * Turns an encryption context into span attributes an auditor can use without learning secrets: every key
 * is recorded; a value is recorded as is only when its key is allow-listed, otherwise as
 * `hmac-sha256:<first 16 bytes in hex>` under a secret key, so equal values can be correlated across spans
 * without being revealed or guessed from a dictionary.
 *
 * Why keyed rather than a plain SHA-256: context values are often low-entropy (tenant ids, bucket names),
 * and a plain hash of those can be reversed by trying candidates.
 */
export class ContextAuditor {
  readonly #allowed: ReadonlySet<string>;
  readonly #key: Buffer;
  readonly #memo = new Map<string, string>();

  /**
   * @param allowListedKeys - context keys whose values may leave the process verbatim.
   * @param hashKey - the HMAC-SHA256 key; random per process when omitted, so hashes correlate within
   * one process only. Give the same key to every process to correlate across a fleet.
   * @throws InvalidOptionError when `hashKey` is empty.
   */
  constructor(allowListedKeys: readonly string[] = [], hashKey?: string | Uint8Array) {
    this.#allowed = new Set(allowListedKeys);
    if (hashKey === undefined) {
      this.#key = defaultKey();
    } else {
      if (hashKey.length === 0) throw new InvalidOptionError('hashKey must not be empty');
      this.#key = typeof hashKey === 'string' ? Buffer.from(hashKey, 'utf8') : Buffer.from(hashKey);
    }
  }

  /** The keyed hash of one value, as recorded on spans. */
  hash(value: string): string {
    let h = this.#memo.get(value);
    if (h === undefined) {
      h =
        HASHED_VALUE_PREFIX +
        createHmac('sha256', this.#key).update(value, 'utf8').digest('hex').slice(0, 32);
      if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear();
      this.#memo.set(value, h);
    }
    return h;
  }

  /** Adds the context's attributes to `into`; does nothing for an absent or empty context. */
  addAttributes(context: Readonly<Record<string, string>> | undefined, into: Attributes): void {
    if (context === undefined) return;
    const keys = Object.keys(context).sort();
    if (keys.length === 0) return;
    into[ATTR_ENCRYPTION_CONTEXT_KEYS] = keys;
    for (const key of keys) {
      const value = context[key];
      if (typeof value !== 'string') continue;
      into[ATTR_ENCRYPTION_CONTEXT_PREFIX + key] = this.#allowed.has(key)
        ? value
        : this.hash(value);
    }
  }
}
