import { LRUCache } from 'lru-cache';
import { needs } from '../errors.js';
import { dataKeyCacheId, type DataKeyCacheKey } from './cacheKey.js';
import { abortError, onAbort, type SignalLike } from './internal/abort.js';
import { publishCache } from './internal/events.js';
import { startSweeper } from './internal/sweeper.js';
import { monotonicClock, type Clock } from './types.js';

/**
 * The most messages one data key may protect: 2^32. AES-GCM with random 96-bit IVs stays within the NIST
 * SP 800-38D collision bound only up to 2^32 invocations per key, so no configuration may exceed it.
 */
export const MAX_MESSAGES_PER_DATA_KEY = 2 ** 32;

/** A data key as `GenerateDataKey` returns it: the default value type of {@link DataKeyCache}. */
export interface DataKey {
  /** The plaintext key. Zeroed by the cache when the entry leaves it and no lease holds it. */
  readonly plaintext: Uint8Array;
  /** The encrypted copy of the key (`CiphertextBlob`), stored beside the message. */
  readonly ciphertextBlob: Uint8Array;
  /** The ARN of the KMS key that encrypted it. */
  readonly keyId: string;
}

/**
 * `zero` is optional for values the cache knows how to wipe — a `Uint8Array`, or an object with a
 * `plaintext: Uint8Array` — and required for any other value type, so forgetting to wipe, say, decryption
 * materials is a type error rather than key material left in memory.
 */
export type ZeroOption<V> = [V] extends [Uint8Array | { readonly plaintext: Uint8Array }]
  ? {
      /** Wipes a value when it leaves the cache. @defaultValue fills the `Uint8Array` (or `plaintext`) with zeros */
      readonly zero?: ((value: V) => void) | undefined;
    }
  : {
      /** Wipes a value when it leaves the cache (e.g. zero every key buffer in decryption materials). */
      readonly zero: (value: V) => void;
    };

/** Options of {@link DataKeyCache} other than `zero`. */
export interface DataKeyCacheBaseOptions {
  /**
   * Capacity in entries. When full, the least recently used entry is evicted (and zeroed). Required: an
   * unbounded cache of key material is not a configuration we offer.
   */
  readonly maxEntries: number;
  /**
   * Longest an entry is handed out, milliseconds from when its value was loaded. An entry whose age has
   * reached `maxAgeMs` is never handed out again. Required, and finite.
   */
  readonly maxAgeMs: number;
  /**
   * Most messages (hand-outs, counted by `usage.messages`) one entry serves. At most 2^32.
   * @defaultValue 2^32 ({@link MAX_MESSAGES_PER_DATA_KEY})
   */
  readonly maxMessages?: number | undefined;
  /**
   * Most bytes (counted by `usage.bytes`) one entry serves, in total.
   * @defaultValue `Number.MAX_SAFE_INTEGER`
   */
  readonly maxBytes?: number | undefined;
  /**
   * Refresh-ahead window, milliseconds: a hit on an entry with less than this much lifetime left starts
   * one background `load()` (the caller's), and the fresh value replaces the entry when it arrives, so a
   * hot entry is renewed before it expires and callers do not stall on KMS. A renewal that fails is
   * retried by a later hit, at most once per quarter of this window. Must be below `maxAgeMs`; set it
   * above one KMS round trip. `0` disables refresh-ahead.
   * @defaultValue 0
   */
  readonly refreshAheadMs?: number | undefined;
  /**
   * How often expired entries are purged (and zeroed) even when nobody looks them up, milliseconds, on an
   * unref'd timer. `0` disables the timer; lookups still never hand out an expired entry.
   * @defaultValue `min(maxAgeMs, 60_000)`
   */
  readonly sweepIntervalMs?: number | undefined;
  /** Time source, milliseconds. @defaultValue `performance.now()` */
  readonly clock?: Clock | undefined;
}

/** Options of {@link DataKeyCache}. */
export type DataKeyCacheOptions<V> = DataKeyCacheBaseOptions & ZeroOption<V>;

/** What one hand-out uses of an entry: its message and byte budgets are debited before it is handed out. */
export interface DataKeyUsage {
  /** Plaintext bytes the caller will protect with the key (`0` for a decrypt). */
  readonly bytes: number;
  /** Messages the caller will protect. `0` suits decryption materials, which carry no message budget. @defaultValue 1 */
  readonly messages?: number | undefined;
}

/** Per-call options of {@link DataKeyCache.getOrLoad}. */
export interface DataKeyGetOptions {
  /** Stops this caller waiting; a load shared with other callers keeps running for them. */
  readonly signal?: SignalLike | undefined;
  /** Carried into `steadykms:cache` events. */
  readonly operationId?: number | undefined;
}

/** How a lease was obtained. `bypass`: the request alone exceeds a limit, so its value is never cached. */
export type DataKeyLeaseSource = 'hit' | 'miss' | 'coalesced' | 'bypass';

/**
 * A cached value handed to one caller. The value stays intact until `release()`: a cache entry evicted or
 * expired while leased is zeroed only when its last lease is released. Call `release()` once done with
 * the key (it is idempotent); {@link DataKeyCache.use} does it for you. An unreleased lease of an evicted
 * entry leaves its key unzeroed until garbage collection.
 */
export interface DataKeyLease<V> {
  readonly value: V;
  readonly source: DataKeyLeaseSource;
  release(): void;
}

/** Counters since construction. */
export interface DataKeyCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly coalesced: number;
  /** `load()` calls made, refreshes included. */
  readonly loads: number;
  readonly refreshes: number;
  readonly evictions: number;
  readonly expirations: number;
  readonly size: number;
}

/** Usage with its default applied. */
interface Usage {
  readonly bytes: number;
  readonly messages: number;
}

type LeaveReason = 'maxAge' | 'maxMessages' | 'maxBytes' | 'capacity' | 'delete' | 'refresh';

/** One cached value and its usage. A class so every entry shares one hidden class (about 80 bytes). */
class Entry<V> {
  messages = 0;
  bytes = 0;
  leases = 0;
  /** Out of the cache: zero once `leases` reaches 0. */
  detached = false;
  zeroed = false;
  refreshing = false;
  /** After a failed renewal, clock time before which no hit starts another. */
  refreshRetryAt = 0;
  leaveReason: LeaveReason | undefined = undefined;
  constructor(
    readonly value: V,
    readonly keyId: string,
    readonly createdAt: number,
  ) {}
}

interface Waiter<V> {
  readonly usage: Usage;
  readonly source: 'miss' | 'coalesced';
  done: boolean;
  resolve(lease: DataKeyLease<V>): void;
  reject(e: unknown): void;
}

/** One `load()` in progress for an id; every concurrent miss for the id waits on it. */
interface Flight<V> {
  readonly waiters: Waiter<V>[];
  readonly load: () => Promise<V>;
  readonly keyId: string;
  /** The entry this load renews (refresh-ahead), so a failed renewal can be retried. */
  readonly refreshOf: Entry<V> | undefined;
  /** Cleared by `delete()` and `clear()`: the load still answers its waiters but is not installed. */
  cacheable: boolean;
}

function defaultZero(value: unknown): void {
  if (value instanceof Uint8Array) value.fill(0);
  else if (typeof value === 'object' && value !== null) {
    const p = (value as { plaintext?: unknown }).plaintext;
    if (p instanceof Uint8Array) p.fill(0);
  }
}

function checkKey(key: DataKeyCacheKey): void {
  needs(
    typeof key === 'object' && key !== null && typeof key.keyId === 'string',
    'DataKeyCache: key.keyId must be a string',
  );
}

function checkInteger(name: string, value: unknown, min: number, max: number, why = ''): number {
  needs(
    typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max,
    `DataKeyCache: ${name} must be an integer from ${min} to ${max}${why}`,
  );
  return value;
}

/**
 * A cache of data keys (or any key material) with per-entry age, message and byte limits, for envelope
 * encryption: one `GenerateDataKey` serves up to `maxMessages` messages instead of one.
 *
 * - Entries are keyed by (KMS key id, canonical encryption context, key spec, partition, parts),
 *   hashed; see {@link dataKeyCacheId}.
 * - An entry past any limit is never handed out again. Usage is reserved when an entry is handed out, in
 *   the same synchronous step as the check, so concurrent callers can never overdraw a budget.
 * - Capacity-bounded LRU (`lru-cache`). A value is zeroed when its entry is evicted, expires, is replaced
 *   or deleted, as soon as no lease holds it.
 * - Concurrent misses for one entry make one `load()` call; it serves as many waiters as its budget allows
 *   and a second load serves the rest.
 * - Optional refresh-ahead (`refreshAheadMs`).
 *
 * Memory: about 0.9 KiB per entry, heap plus ArrayBuffers (measured 914 bytes with a 32-byte key and a
 * 184-byte ciphertext blob): the value's two buffers are about half; the rest is lru-cache's slots, its
 * map entry, the 44-character id and the entry object. 10,000 entries take about 9 MiB; the tests hold
 * them under 16 MiB.
 *
 * @typeParam V - The cached value. {@link DataKey} by default; any other type needs a `zero` hook.
 */
export class DataKeyCache<V = DataKey> {
  /** The limits every entry is held to. */
  readonly maxAgeMs: number;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly refreshAheadMs: number;

  readonly #lru: LRUCache<string, Entry<V>>;
  readonly #flights = new Map<string, Flight<V>>();
  readonly #zero: (value: V) => void;
  readonly #clock: Clock;
  readonly #stopSweep: () => void;
  #hits = 0;
  #misses = 0;
  #coalesced = 0;
  #loads = 0;
  #refreshes = 0;
  #evictions = 0;
  #expirations = 0;

  constructor(options: DataKeyCacheOptions<V>) {
    needs(typeof options === 'object' && options !== null, 'DataKeyCache: options are required');
    this.maxEntries = checkInteger('maxEntries', options.maxEntries, 1, 2 ** 30);
    needs(
      typeof options.maxAgeMs === 'number' &&
        Number.isFinite(options.maxAgeMs) &&
        options.maxAgeMs > 0,
      'DataKeyCache: maxAgeMs must be a finite number of milliseconds above 0',
    );
    this.maxAgeMs = options.maxAgeMs;
    this.maxMessages = checkInteger(
      'maxMessages',
      options.maxMessages ?? MAX_MESSAGES_PER_DATA_KEY,
      1,
      MAX_MESSAGES_PER_DATA_KEY,
      ' (2^32, the AES-GCM limit for one key with random IVs)',
    );
    this.maxBytes = checkInteger(
      'maxBytes',
      options.maxBytes ?? Number.MAX_SAFE_INTEGER,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    const ahead = options.refreshAheadMs ?? 0;
    needs(
      typeof ahead === 'number' && Number.isFinite(ahead) && ahead >= 0 && ahead < this.maxAgeMs,
      'DataKeyCache: refreshAheadMs must be at least 0 and below maxAgeMs',
    );
    this.refreshAheadMs = ahead;
    const sweep = options.sweepIntervalMs ?? Math.min(this.maxAgeMs, 60_000);
    needs(
      typeof sweep === 'number' && Number.isFinite(sweep) && sweep >= 0,
      'DataKeyCache: sweepIntervalMs must be a finite number of milliseconds, 0 to disable',
    );
    const zero = (options as { zero?: ((value: V) => void) | undefined }).zero;
    needs(
      zero === undefined || typeof zero === 'function',
      'DataKeyCache: zero must be a function',
    );
    this.#zero = zero ?? defaultZero;
    needs(
      options.clock === undefined ||
        (typeof options.clock === 'object' &&
          options.clock !== null &&
          typeof options.clock.now === 'function'),
      'DataKeyCache: clock must be an object with a now() method returning milliseconds',
    );
    this.#clock = options.clock ?? monotonicClock;
    this.#lru = new LRUCache<string, Entry<V>>({
      max: this.maxEntries,
      dispose: (entry, _id, reason) => this.#onDispose(entry, reason),
    });
    this.#stopSweep = startSweeper(this, sweep);
  }

  /** Entries currently cached. */
  get size(): number {
    return this.#lru.size;
  }

  /**
   * Hands out a lease on the entry for `key`, loading it with `load()` on a miss. Concurrent misses for
   * the same key share one `load()`; if it rejects, every caller waiting on it rejects with its error.
   * A request whose `usage` alone exceeds `maxBytes` or `maxMessages` bypasses the cache: it gets its own
   * `load()`, never cached, zeroed on release. Bad arguments (a `usage` that is not a count, a key
   * without a string `keyId`, no `load`) reject with an `InvalidOptionError` naming them.
   *
   * @param load - Produces a fresh value, e.g. by calling `GenerateDataKey` through a client that carries
   *   the steadykms plugin (so the call, refreshes included, passes the limiter). It is called without the
   *   caller's signal because its result may serve other callers.
   */
  getOrLoad(
    key: DataKeyCacheKey,
    usage: DataKeyUsage,
    load: () => Promise<V>,
    options?: DataKeyGetOptions,
  ): Promise<DataKeyLease<V>> {
    let u: Usage;
    try {
      checkKey(key);
      u = this.#usage(usage);
      needs(typeof load === 'function', 'DataKeyCache: load must be a function');
    } catch (e) {
      // A promise-returning method reports bad arguments as a rejection, never a synchronous throw.
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const opId = options?.operationId;
    if (u.messages > this.maxMessages || u.bytes > this.maxBytes) {
      return this.#bypass(key.keyId, load, signal, opId);
    }
    const id = dataKeyCacheId(key);
    const lease = this.#lookup(id, u, load, opId);
    if (lease !== undefined) return Promise.resolve(lease);
    return this.#wait(id, key.keyId, u, load, signal, opId);
  }

  /** Like {@link getOrLoad}, but runs `fn` with the value and releases the lease when `fn` settles. */
  async use<R>(
    key: DataKeyCacheKey,
    usage: DataKeyUsage,
    load: () => Promise<V>,
    fn: (value: V) => R | Promise<R>,
    options?: DataKeyGetOptions,
  ): Promise<R> {
    const lease = await this.getOrLoad(key, usage, load, options);
    try {
      return await fn(lease.value);
    } finally {
      lease.release();
    }
  }

  /** A lease on a valid cached entry that can afford `usage`, or `undefined`. Never loads. */
  get(key: DataKeyCacheKey, usage: DataKeyUsage): DataKeyLease<V> | undefined {
    checkKey(key);
    return this.#lookup(dataKeyCacheId(key), this.#usage(usage), undefined, undefined);
  }

  /**
   * Removes the entry for `key` (zeroed once unleased). Returns whether there was one. A load for `key`
   * already in flight (a miss or a renewal) still answers the callers waiting on it but is not cached,
   * so nothing loaded before the delete is handed out to a caller who arrives after it.
   */
  delete(key: DataKeyCacheKey): boolean {
    checkKey(key);
    const id = dataKeyCacheId(key);
    const flight = this.#flights.get(id);
    if (flight !== undefined) {
      flight.cacheable = false;
      this.#flights.delete(id);
    }
    const entry = this.#lru.peek(id);
    if (entry === undefined) return false;
    this.#remove(id, entry, 'delete');
    return true;
  }

  /**
   * Removes every entry; loads already in flight still answer the callers waiting on them but are not
   * cached, and callers arriving after `clear()` do not join them.
   */
  clear(): void {
    for (const flight of this.#flights.values()) flight.cacheable = false;
    this.#flights.clear();
    this.#lru.clear();
  }

  /** Removes entries that have reached `maxAgeMs`. Returns how many. Runs on the sweep timer too. */
  purgeStale(): number {
    const now = this.#clock.now();
    const stale: [string, Entry<V>][] = [];
    for (const [id, entry] of this.#lru.entries()) {
      if (now - entry.createdAt >= this.maxAgeMs) stale.push([id, entry]);
    }
    for (const [id, entry] of stale) this.#remove(id, entry, 'maxAge');
    return stale.length;
  }

  /** Stops the sweep timer and clears the cache. */
  close(): void {
    this.#stopSweep();
    this.clear();
  }

  /** Counters since construction. */
  stats(): DataKeyCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      coalesced: this.#coalesced,
      loads: this.#loads,
      refreshes: this.#refreshes,
      evictions: this.#evictions,
      expirations: this.#expirations,
      size: this.#lru.size,
    };
  }

  #usage(usage: DataKeyUsage): Usage {
    needs(typeof usage === 'object' && usage !== null, 'DataKeyCache: usage is required');
    const bytes = usage.bytes;
    const messages = usage.messages ?? 1;
    needs(
      Number.isSafeInteger(bytes) && bytes >= 0,
      'DataKeyCache: usage.bytes must be an integer at least 0',
    );
    needs(
      Number.isSafeInteger(messages) && messages >= 0,
      'DataKeyCache: usage.messages must be an integer at least 0',
    );
    return { bytes, messages };
  }

  /** Checks and reserves in one synchronous step: the only place usage is debited. */
  #reserve(entry: Entry<V>, u: Usage): boolean {
    if (entry.zeroed) return false;
    if (entry.messages + u.messages > this.maxMessages) return false;
    if (entry.bytes + u.bytes > this.maxBytes) return false;
    entry.messages += u.messages;
    entry.bytes += u.bytes;
    entry.leases++;
    return true;
  }

  #spent(entry: Entry<V>): LeaveReason | undefined {
    if (entry.messages >= this.maxMessages) return 'maxMessages';
    if (entry.bytes >= this.maxBytes) return 'maxBytes';
    return undefined;
  }

  #lookup(
    id: string,
    u: Usage,
    load: (() => Promise<V>) | undefined,
    opId: number | undefined,
  ): DataKeyLease<V> | undefined {
    const entry = this.#lru.get(id);
    if (entry === undefined) return undefined;
    const now = this.#clock.now();
    const age = now - entry.createdAt;
    if (age >= this.maxAgeMs) {
      this.#remove(id, entry, 'maxAge', opId);
      return undefined;
    }
    if (!this.#reserve(entry, u)) {
      const over = entry.messages + u.messages > this.maxMessages ? 'maxMessages' : 'maxBytes';
      this.#remove(id, entry, over, opId);
      return undefined;
    }
    this.#hits++;
    publishCache('data-key', 'hit', undefined, opId, entry.keyId, undefined);
    const lease = this.#lease(entry, 'hit');
    const spent = this.#spent(entry);
    if (spent !== undefined) {
      // Used up by this hand-out: leave now so the key is zeroed as soon as the lease is released.
      this.#remove(id, entry, spent, opId);
    } else if (
      load !== undefined &&
      this.refreshAheadMs > 0 &&
      !entry.refreshing &&
      age >= this.maxAgeMs - this.refreshAheadMs &&
      now >= entry.refreshRetryAt &&
      !this.#flights.has(id)
    ) {
      entry.refreshing = true;
      this.#refreshes++;
      publishCache('data-key', 'refresh', undefined, opId, entry.keyId, undefined);
      this.#startFlight(id, entry.keyId, load, entry);
    }
    return lease;
  }

  #wait(
    id: string,
    keyId: string,
    u: Usage,
    load: () => Promise<V>,
    signal: SignalLike | undefined,
    opId: number | undefined,
  ): Promise<DataKeyLease<V>> {
    return new Promise<DataKeyLease<V>>((resolve, reject) => {
      let flight = this.#flights.get(id);
      const source = flight === undefined ? 'miss' : 'coalesced';
      if (flight === undefined) flight = this.#startFlight(id, keyId, load);
      if (source === 'miss') this.#misses++;
      else this.#coalesced++;
      publishCache('data-key', source, undefined, opId, keyId, undefined);
      let off: () => void = () => {};
      const waiter: Waiter<V> = {
        usage: u,
        source,
        done: false,
        resolve: (lease) => {
          off();
          resolve(lease);
        },
        reject: (e) => {
          off();
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the load's own error, passed through
          reject(e);
        },
      };
      flight.waiters.push(waiter);
      if (signal !== undefined) {
        off = onAbort(signal, () => {
          if (waiter.done) return;
          waiter.done = true;
          off();
          reject(abortError(signal));
        });
      }
    });
  }

  #startFlight(id: string, keyId: string, load: () => Promise<V>, refreshOf?: Entry<V>): Flight<V> {
    const flight: Flight<V> = { waiters: [], load, keyId, refreshOf, cacheable: true };
    this.#flights.set(id, flight);
    this.#loads++;
    (async () => load())().then(
      (value) => this.#land(id, flight, value),
      (e: unknown) => this.#fail(id, flight, e),
    );
    return flight;
  }

  #land(id: string, flight: Flight<V>, value: V): void {
    if (this.#flights.get(id) === flight) this.#flights.delete(id);
    const entry = new Entry(value, flight.keyId, this.#clock.now());
    const waiters = flight.waiters;
    let i = 0;
    for (; i < waiters.length; i++) {
      const w = waiters[i]!;
      if (w.done) continue;
      if (!this.#reserve(entry, w.usage)) break;
      w.done = true;
      w.resolve(this.#lease(entry, w.source));
    }
    const spent = this.#spent(entry);
    if (flight.cacheable && spent === undefined) {
      // Replaces (and disposes) the entry being refreshed, if any.
      this.#lru.set(id, entry);
    } else {
      entry.detached = true;
      if (entry.leases === 0) this.#zeroEntry(entry);
    }
    const rest = waiters.slice(i).filter((w) => !w.done);
    if (rest.length > 0) {
      const next = this.#flights.get(id) ?? this.#startFlight(id, flight.keyId, flight.load);
      next.waiters.push(...rest);
    }
  }

  #fail(id: string, flight: Flight<V>, e: unknown): void {
    if (this.#flights.get(id) === flight) this.#flights.delete(id);
    const renewed = flight.refreshOf;
    if (renewed !== undefined) {
      // A failed renewal (a throttle, say) must not leave the entry to expire under its callers: a later
      // hit retries, but not before a quarter of the refresh window has passed, so a failing KMS is not
      // asked again on every hit.
      renewed.refreshing = false;
      renewed.refreshRetryAt = this.#clock.now() + this.refreshAheadMs / 4;
    }
    for (const w of flight.waiters) {
      if (w.done) continue;
      w.done = true;
      w.reject(e);
    }
  }

  async #bypass(
    keyId: string,
    load: () => Promise<V>,
    signal: SignalLike | undefined,
    opId: number | undefined,
  ): Promise<DataKeyLease<V>> {
    this.#misses++;
    this.#loads++;
    publishCache('data-key', 'miss', undefined, opId, keyId, 'bypass');
    const loading = (async () => load())();
    let value: V;
    if (signal === undefined) value = await loading;
    else {
      value = await new Promise<V>((resolve, reject) => {
        let settled = false;
        const off = onAbort(signal, () => {
          if (settled) return;
          settled = true;
          reject(abortError(signal));
        });
        loading.then(
          (v) => {
            off();
            if (settled) this.#safeZero(v);
            else {
              settled = true;
              resolve(v);
            }
          },
          (e: unknown) => {
            off();
            if (!settled) {
              settled = true;
              // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the load's own error, passed through
              reject(e);
            }
          },
        );
      });
    }
    const entry = new Entry(value, keyId, this.#clock.now());
    entry.detached = true;
    entry.leases = 1;
    return this.#lease(entry, 'bypass');
  }

  #lease(entry: Entry<V>, source: DataKeyLeaseSource): DataKeyLease<V> {
    let released = false;
    return {
      value: entry.value,
      source,
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        if (entry.detached && entry.leases === 0) this.#zeroEntry(entry);
      },
    };
  }

  #remove(id: string, entry: Entry<V>, reason: LeaveReason, opId?: number): void {
    entry.leaveReason = reason;
    this.#leaveOpId = opId;
    try {
      this.#lru.delete(id);
    } finally {
      this.#leaveOpId = undefined;
    }
  }

  #leaveOpId: number | undefined = undefined;

  #onDispose(entry: Entry<V>, lruReason: LRUCache.DisposeReason): void {
    const reason: LeaveReason =
      entry.leaveReason ??
      (lruReason === 'evict' ? 'capacity' : lruReason === 'set' ? 'refresh' : 'delete');
    entry.detached = true;
    if (reason === 'maxAge') this.#expirations++;
    else this.#evictions++;
    publishCache(
      'data-key',
      reason === 'maxAge' ? 'expire' : 'evict',
      undefined,
      this.#leaveOpId,
      entry.keyId,
      reason,
    );
    if (entry.leases === 0) this.#zeroEntry(entry);
  }

  #zeroEntry(entry: Entry<V>): void {
    if (entry.zeroed) return;
    entry.zeroed = true;
    this.#safeZero(entry.value);
  }

  /** A throwing `zero` hook must not corrupt the cache mid-operation; the value is dropped either way. */
  #safeZero(value: V): void {
    try {
      this.#zero(value);
    } catch {
      // Nothing more can be done for this value; it is no longer reachable through the cache.
    }
  }
}
