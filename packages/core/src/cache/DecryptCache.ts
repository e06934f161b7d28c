import type { DecryptCommandOutput } from '@aws-sdk/client-kms';
import { LRUCache } from 'lru-cache';
import { needs } from '../errors.js';
import { copyBytes } from './internal/bytes.js';
import { publishCache } from './internal/events.js';
import { startSweeper } from './internal/sweeper.js';
import { monotonicClock, type Clock } from './types.js';

/** Options of {@link DecryptCache}; both limits are required, so an unbounded cache does not compile. */
export interface DecryptCacheOptions {
  /**
   * How long a Decrypt answer is reused, milliseconds from when KMS gave it. This is also how long a key
   * that has since been disabled, deleted or had its grant revoked keeps "decrypting" from this cache:
   * keep it short (seconds to minutes).
   */
  readonly ttlMs: number;
  /** Capacity in entries; the least recently used entry is evicted (and its plaintext zeroed). */
  readonly maxEntries: number;
  /** Time source, milliseconds. @defaultValue `performance.now()` */
  readonly clock?: Clock | undefined;
  /**
   * How often expired entries are purged (and zeroed) when nobody looks them up, milliseconds; `0`
   * disables the unref'd timer.
   * @defaultValue `min(ttlMs, 60_000)`
   */
  readonly sweepIntervalMs?: number | undefined;
}

/** A Decrypt answer as stored: the output without `$metadata`, with the cache's own copy of Plaintext. */
type Stored = Omit<DecryptCommandOutput, '$metadata'>;

class Entry {
  leaveReason: string | undefined = undefined;
  constructor(
    readonly output: Stored,
    readonly storedAt: number,
  ) {}
}

/** Counters since construction. */
export interface DecryptCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly expirations: number;
  readonly size: number;
}

/**
 * A TTL- and capacity-bounded cache of KMS Decrypt answers, keyed by {@link decryptCacheKey}. Used by the
 * cache middleware; usable alone.
 *
 * It holds its own copy of every plaintext and hands out copies, so a caller may zero what it gets
 * without harming the cache or other callers; the cached copy is zeroed when the entry is evicted,
 * expires, is deleted or is replaced.
 *
 * Memory: about 0.5 KiB per entry, heap plus ArrayBuffers (measured 488 bytes for a 32-byte plaintext):
 * lru-cache's slots, the 44-character key, the entry and output objects and the plaintext copy.
 */
export class DecryptCache {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly #lru: LRUCache<string, Entry>;
  readonly #clock: Clock;
  readonly #stopSweep: () => void;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #expirations = 0;
  #leaveOpId: number | undefined = undefined;

  constructor(options: DecryptCacheOptions) {
    needs(typeof options === 'object' && options !== null, 'decryptCache: options are required');
    needs(
      typeof options.ttlMs === 'number' && Number.isFinite(options.ttlMs) && options.ttlMs > 0,
      'decryptCache.ttlMs must be a finite number of milliseconds above 0',
    );
    needs(
      Number.isSafeInteger(options.maxEntries) &&
        options.maxEntries >= 1 &&
        options.maxEntries <= 2 ** 30,
      'decryptCache.maxEntries must be an integer from 1 to 2^30',
    );
    const sweep = options.sweepIntervalMs ?? Math.min(options.ttlMs, 60_000);
    needs(
      typeof sweep === 'number' && Number.isFinite(sweep) && sweep >= 0,
      'decryptCache.sweepIntervalMs must be a finite number of milliseconds, 0 to disable',
    );
    needs(
      options.clock === undefined ||
        (typeof options.clock === 'object' &&
          options.clock !== null &&
          typeof options.clock.now === 'function'),
      'decryptCache.clock must be an object with a now() method returning milliseconds',
    );
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.#clock = options.clock ?? monotonicClock;
    this.#lru = new LRUCache<string, Entry>({
      max: this.maxEntries,
      dispose: (entry, _key, reason) => this.#onDispose(entry, reason),
    });
    this.#stopSweep = startSweeper(this, sweep);
  }

  /** Entries currently cached. */
  get size(): number {
    return this.#lru.size;
  }

  /**
   * A fresh output for `key` with its own copy of Plaintext, or `undefined` when absent or expired (an
   * expired entry is removed and zeroed). `$metadata` says no request was made: `attempts: 0`.
   */
  get(key: string, operationId?: number): DecryptCommandOutput | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    if (this.#clock.now() - entry.storedAt >= this.ttlMs) {
      this.#remove(key, entry, 'maxAge', operationId);
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    const out = entry.output;
    return {
      ...out,
      ...(out.Plaintext === undefined ? {} : { Plaintext: copyBytes(out.Plaintext) }),
      $metadata: { httpStatusCode: 200, attempts: 0, totalRetryDelay: 0 },
    };
  }

  /** Stores a copy of `output` (its Plaintext copied, `$metadata` dropped) under `key`. */
  set(key: string, output: DecryptCommandOutput): void {
    const { $metadata: _metadata, ...rest } = output;
    const stored: Stored =
      rest.Plaintext === undefined ? rest : { ...rest, Plaintext: copyBytes(rest.Plaintext) };
    this.#lru.set(key, new Entry(stored, this.#clock.now()));
  }

  /** Removes (and zeroes) the entry for `key`. Returns whether there was one. */
  delete(key: string): boolean {
    const entry = this.#lru.peek(key);
    if (entry === undefined) return false;
    this.#remove(key, entry, 'delete');
    return true;
  }

  /** Removes and zeroes every entry. */
  clear(): void {
    this.#lru.clear();
  }

  /** Removes entries older than `ttlMs`. Returns how many. Runs on the sweep timer too. */
  purgeStale(): number {
    const now = this.#clock.now();
    const stale: [string, Entry][] = [];
    for (const [key, entry] of this.#lru.entries()) {
      if (now - entry.storedAt >= this.ttlMs) stale.push([key, entry]);
    }
    for (const [key, entry] of stale) this.#remove(key, entry, 'maxAge');
    return stale.length;
  }

  /** Stops the sweep timer and clears the cache. */
  close(): void {
    this.#stopSweep();
    this.clear();
  }

  /** Counters since construction. */
  stats(): DecryptCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expirations: this.#expirations,
      size: this.#lru.size,
    };
  }

  #remove(key: string, entry: Entry, reason: string, operationId?: number): void {
    entry.leaveReason = reason;
    this.#leaveOpId = operationId;
    try {
      this.#lru.delete(key);
    } finally {
      this.#leaveOpId = undefined;
    }
  }

  #onDispose(entry: Entry, lruReason: LRUCache.DisposeReason): void {
    const reason =
      entry.leaveReason ??
      (lruReason === 'evict' ? 'capacity' : lruReason === 'set' ? 'replaced' : 'delete');
    if (reason === 'maxAge') this.#expirations++;
    else this.#evictions++;
    publishCache(
      'decrypt',
      reason === 'maxAge' ? 'expire' : 'evict',
      'Decrypt',
      this.#leaveOpId,
      entry.output.KeyId,
      reason,
    );
    entry.output.Plaintext?.fill(0);
  }
}
