import { createHash, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { aliasNotFound, keyNotFound, KmsError } from './errors.js';
import {
  Journal,
  loadMasterKey,
  openMaterial,
  sealMaterial,
  type LoadedState,
  type StoredAlias,
  type StoredKey,
  type StoredKeyStore,
} from './Journal.js';
import { exportMaterial, specInfo } from './keySpecs.js';

/** KMS key states local-kms models. */
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

/** A key in memory: its stored record plus the unsealed material, ready for the hot path. */
export interface Key {
  readonly stored: StoredKey;
  readonly arn: string;
  /** Material versions; the last is current. */
  readonly materials: readonly KeyObject[];
  /** A stable id per material version (KMS's `KeyMaterialId`, 64 hex digits). */
  readonly materialIds: readonly string[];
}

/** An alias in memory. */
export interface Alias {
  readonly stored: StoredAlias;
  readonly arn: string;
}

interface Region {
  readonly keys: Map<string, Key>;
  readonly aliases: Map<string, Alias>;
  readonly stores: Map<string, StoredKeyStore>;
}

/** A key id: a UUID, or `mrk-` and 32 hex digits for a multi-Region key. */
const KEY_ID =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;

/**
 * Keys and aliases per region, with lookups by key id, key ARN, alias name and alias ARN, and every
 * mutation journaled (when there is a data directory) before it is applied in memory.
 */
export class KeyStore {
  readonly accountId: string;
  readonly #regions = new Map<string, Region>();
  readonly #journal: Journal | undefined;
  readonly #master: Buffer | undefined;
  readonly #now: () => number;
  /** No automatic rotation is due before this time (ms); `-Infinity` forces a scan. */
  #nextDue = Number.NEGATIVE_INFINITY;

  constructor(accountId: string, now: () => number, dataDir?: string, compactEvery?: number) {
    this.accountId = accountId;
    this.#now = now;
    if (dataDir === undefined) return;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.#master = loadMasterKey(dataDir);
    const { journal, state } = Journal.open(dataDir, (s) => this.#compact(s), compactEvery);
    this.#journal = journal;
    journal.compactFrom(() => this.#compact(this.#snapshot()));
    try {
      for (const k of state.keys) this.#region(k.region).keys.set(k.id, this.#load(k));
    } catch (e) {
      // Wrong master key: release the directory so a corrected start can take it.
      journal.close();
      throw e;
    }
    for (const a of state.aliases) {
      this.#region(a.region).aliases.set(a.name, {
        stored: a,
        arn: this.aliasArn(a.region, a.name),
      });
    }
    for (const c of state.stores) this.#region(c.region).stores.set(c.id, c);
  }

  /** Everything in memory, as stored records. */
  #snapshot(): LoadedState {
    const keys: StoredKey[] = [];
    const aliases: StoredAlias[] = [];
    const stores: StoredKeyStore[] = [];
    for (const r of this.#regions.values()) {
      for (const k of r.keys.values()) keys.push(k.stored);
      for (const a of r.aliases.values()) aliases.push(a.stored);
      for (const c of r.stores.values()) stores.push(c);
    }
    return { keys, aliases, stores };
  }

  #compact(state: LoadedState): LoadedState {
    const now = this.#now();
    const gone = new Set<string>();
    const keys = state.keys.filter((k) => {
      const expired = k.state === 'PendingDeletion' && (k.deletionDate ?? Infinity) <= now;
      if (expired) gone.add(`${k.region}/${k.id}`);
      return !expired;
    });
    const aliases = state.aliases.filter((a) => !gone.has(`${a.region}/${a.targetKeyId}`));
    return { keys, aliases, stores: state.stores };
  }

  #load(stored: StoredKey): Key {
    const arn = this.keyArn(stored.region, stored.id);
    const raw = stored.materials.map((s, v) => openMaterial(this.#master!, s, `${arn}#${v}`));
    return this.#make(stored, arn, raw);
  }

  #make(stored: StoredKey, arn: string, raw: readonly Buffer[]): Key {
    const info = specInfo(stored.keySpec);
    return {
      stored,
      arn,
      materials: raw.map((m) => info.load(m)),
      materialIds: raw.map((m) => createHash('sha256').update(stored.id).update(m).digest('hex')),
    };
  }

  #region(name: string): Region {
    let r = this.#regions.get(name);
    if (r === undefined) {
      r = { keys: new Map(), aliases: new Map(), stores: new Map() };
      this.#regions.set(name, r);
    }
    return r;
  }

  keyArn(region: string, id: string): string {
    return `arn:aws:kms:${region}:${this.accountId}:key/${id}`;
  }

  aliasArn(region: string, name: string): string {
    return `arn:aws:kms:${region}:${this.accountId}:${name}`;
  }

  /** A key by id, or `undefined`; a key whose deletion date has passed is gone. */
  byId(region: string, id: string): Key | undefined {
    const r = this.#regions.get(region);
    const key = r?.keys.get(id);
    if (key === undefined || r === undefined) return undefined;
    const s = key.stored;
    if (s.state === 'PendingDeletion' && (s.deletionDate ?? Infinity) <= this.#now()) {
      // Deleted: forget it in memory; the next start drops it from disk by the same rule.
      r.keys.delete(id);
      for (const [name, a] of r.aliases) if (a.stored.targetKeyId === id) r.aliases.delete(name);
      return undefined;
    }
    return key;
  }

  /**
   * Resolves what a caller wrote as `KeyId`: a key id, a key ARN, an alias name or an alias ARN (the
   * last two only when `aliases` is true, as KMS allows them only on some operations). Throws
   * `NotFoundException` when nothing in this region matches.
   */
  resolve(region: string, ref: string, aliases = true): Key {
    // A stored key's id always has the KEY_ID shape, so a hit skips the regular expression.
    if (this.#regions.get(region)?.keys.has(ref) === true || KEY_ID.test(ref)) {
      const key = this.byId(region, ref);
      if (key === undefined) throw keyNotFound(this.keyArn(region, ref));
      return key;
    }
    if (ref.startsWith('arn:')) {
      const prefix = `arn:aws:kms:${region}:${this.accountId}:`;
      if (!ref.startsWith(prefix)) throw new KmsError('NotFoundException', `Invalid arn ${ref}`);
      const rest = ref.slice(prefix.length);
      if (rest.startsWith('key/')) {
        const key = this.byId(region, rest.slice(4));
        if (key === undefined) throw keyNotFound(ref);
        return key;
      }
      if (aliases && rest.startsWith('alias/')) return this.#viaAlias(region, rest, ref);
      throw new KmsError('NotFoundException', `Invalid arn ${ref}`);
    }
    if (aliases && ref.startsWith('alias/')) {
      return this.#viaAlias(region, ref, this.aliasArn(region, ref));
    }
    throw new KmsError('NotFoundException', `Invalid keyId '${ref}'`);
  }

  #viaAlias(region: string, name: string, arn: string): Key {
    const alias = this.#regions.get(region)?.aliases.get(name);
    const key = alias === undefined ? undefined : this.byId(region, alias.stored.targetKeyId);
    if (key === undefined) throw aliasNotFound(arn);
    return key;
  }

  /** Keys of a region, oldest first, skipping those already deleted. */
  keys(region: string): Key[] {
    const r = this.#regions.get(region);
    if (r === undefined) return [];
    return [...r.keys.keys()].map((id) => this.byId(region, id)).filter((k) => k !== undefined);
  }

  /** Aliases of a region in creation order. */
  aliases(region: string): Alias[] {
    const r = this.#regions.get(region);
    if (r === undefined) return [];
    return [...r.aliases.values()].filter((a) => this.byId(region, a.stored.targetKeyId));
  }

  alias(region: string, name: string): Alias | undefined {
    const a = this.#regions.get(region)?.aliases.get(name);
    if (a === undefined) return undefined;
    return this.byId(region, a.stored.targetKeyId) === undefined ? undefined : a;
  }

  /** Creates a key with fresh material of its spec; durable before it returns. */
  createKey(fields: Omit<StoredKey, 'id' | 'materials' | 'creationDate'>): Key {
    const id =
      fields.multiRegion === undefined ? randomUUID() : `mrk-${randomBytes(16).toString('hex')}`;
    const arn = this.keyArn(fields.region, id);
    const material = specInfo(fields.keySpec).generate();
    const materials = this.#master ? [sealMaterial(this.#master, material, `${arn}#0`)] : [];
    const stored: StoredKey = { ...fields, id, creationDate: this.#now(), materials };
    this.#journal?.append({ t: 'key', key: stored });
    this.#nextDue = Number.NEGATIVE_INFINITY;
    const key = this.#make(stored, arn, [material]);
    this.#region(fields.region).keys.set(id, key);
    this.#journal?.maybeCompact();
    return key;
  }

  /** Replaces a key's record (state, description...) keeping its material; durable before it returns. */
  updateKey(key: Key, change: Partial<Omit<StoredKey, 'id' | 'region' | 'materials'>>): Key {
    const stored: StoredKey = { ...key.stored, ...change };
    if (stored.state !== 'PendingDeletion') {
      delete (stored as { deletionDate?: number }).deletionDate;
      delete (stored as { pendingWindowInDays?: number }).pendingWindowInDays;
    }
    this.#journal?.append({ t: 'key', key: stored });
    this.#nextDue = Number.NEGATIVE_INFINITY;
    const next: Key = { ...key, stored };
    this.#region(stored.region).keys.set(stored.id, next);
    this.#journal?.maybeCompact();
    return next;
  }

  /**
   * Adds a new material version (a rotation) to a symmetric key, and to every copy of a multi-Region
   * key; ciphertexts under older versions keep decrypting. Durable before it returns.
   */
  rotateKey(key: Key, type: 'AUTOMATIC' | 'ON_DEMAND'): Key {
    const now = this.#now();
    const material = specInfo(key.stored.keySpec).generate();
    let result = key;
    for (const copy of this.copies(key)) {
      const version = copy.materials.length;
      const sealed = this.#master
        ? [...copy.stored.materials, sealMaterial(this.#master, material, `${copy.arn}#${version}`)]
        : copy.stored.materials;
      const period = copy.stored.rotationPeriodInDays ?? 365;
      const stored: StoredKey = {
        ...copy.stored,
        materials: sealed,
        rotations: [...(copy.stored.rotations ?? []), { date: now, type }],
        ...(copy.stored.rotationEnabled === true && type === 'AUTOMATIC'
          ? { nextRotationDate: now + period * 86_400_000 }
          : {}),
      };
      this.#journal?.append({ t: 'key', key: stored });
      this.#nextDue = Number.NEGATIVE_INFINITY;
      const fresh = this.#make(stored, copy.arn, [material]);
      const next: Key = {
        stored,
        arn: copy.arn,
        materials: [...copy.materials, ...fresh.materials],
        materialIds: [...copy.materialIds, ...fresh.materialIds],
      };
      this.#region(stored.region).keys.set(stored.id, next);
      this.#journal?.maybeCompact();
      if (copy === key) result = next;
    }
    return result;
  }

  /** Every live copy of a key: itself, plus its replicas (or primary) when it is multi-Region. */
  copies(key: Key): Key[] {
    const mr = key.stored.multiRegion;
    if (mr === undefined) return [key];
    return mr.regions
      .map((r) => (r === key.stored.region ? key : this.byId(r, key.stored.id)))
      .filter((k) => k !== undefined);
  }

  /**
   * Creates a replica of a multi-Region key in `region`, with the same id and material (re-sealed
   * under the replica's ARN), and records the new region on every copy. Durable before it returns.
   */
  replicate(
    key: Key,
    region: string,
    fields: Pick<StoredKey, 'description' | 'policy' | 'tags'>,
  ): Key {
    const mr = key.stored.multiRegion;
    if (mr === undefined) throw new Error('local-kms: replicate needs a multi-Region key');
    const regions = [...mr.regions.filter((r) => r !== region), region];
    const arn = this.keyArn(region, key.stored.id);
    const raw = key.materials.map(exportMaterial);
    const stored: StoredKey = {
      ...key.stored,
      ...fields,
      region,
      state: 'Enabled',
      creationDate: this.#now(),
      materials: this.#master
        ? raw.map((m, v) => sealMaterial(this.#master!, m, `${arn}#${v}`))
        : [],
      multiRegion: { primaryRegion: mr.primaryRegion, regions },
    };
    delete (stored as { deletionDate?: number }).deletionDate;
    delete (stored as { pendingWindowInDays?: number }).pendingWindowInDays;
    this.#journal?.append({ t: 'key', key: stored });
    this.#nextDue = Number.NEGATIVE_INFINITY;
    const replica = this.#make(stored, arn, raw);
    this.#region(region).keys.set(stored.id, replica);
    this.#journal?.maybeCompact();
    for (const copy of this.copies(key)) {
      if (copy.stored.region !== region) {
        this.updateKey(copy, { multiRegion: { primaryRegion: mr.primaryRegion, regions } });
      }
    }
    return replica;
  }

  /** Makes `region` the primary of a multi-Region key on every copy. Durable before it returns. */
  setPrimaryRegion(key: Key, region: string): void {
    const mr = key.stored.multiRegion;
    if (mr === undefined) throw new Error('local-kms: setPrimaryRegion needs a multi-Region key');
    for (const copy of this.copies(key)) {
      this.updateKey(copy, { multiRegion: { primaryRegion: region, regions: mr.regions } });
    }
  }

  /** Rotates every enabled key whose automatic rotation date has come; returns how many. */
  rotateDue(): number {
    const now = this.#now();
    // Control-plane reads (DescribeKey at 2,000 rps) call this too: skip the scan until the earliest
    // known due date, which any mutation resets.
    if (now < this.#nextDue) return 0;
    let n = 0;
    let earliest = Infinity;
    for (const [region, r] of this.#regions) {
      for (const id of [...r.keys.keys()]) {
        const key = this.byId(region, id);
        const s = key?.stored;
        if (key === undefined || s === undefined || s.rotationEnabled !== true) continue;
        // A multi-Region key rotates from its primary, which rotates every copy.
        if (s.multiRegion !== undefined && s.multiRegion.primaryRegion !== region) continue;
        const due = s.nextRotationDate ?? Infinity;
        if (s.state !== 'Enabled' || due > now) {
          if (s.state === 'Enabled') earliest = Math.min(earliest, due);
          continue;
        }
        const next = this.rotateKey(key, 'AUTOMATIC');
        earliest = Math.min(earliest, next.stored.nextRotationDate ?? Infinity);
        n++;
      }
    }
    this.#nextDue = earliest;
    return n;
  }

  /** True once any region has a custom key store (so Decrypt must look up the blob's key). */
  hasStores(): boolean {
    for (const r of this.#regions.values()) if (r.stores.size > 0) return true;
    return false;
  }

  /** Custom key stores of a region, in creation order. */
  stores(region: string): StoredKeyStore[] {
    return [...(this.#regions.get(region)?.stores.values() ?? [])];
  }

  store(region: string, id: string): StoredKeyStore | undefined {
    return this.#regions.get(region)?.stores.get(id);
  }

  /** Creates or replaces a custom key store record; durable before it returns. */
  putStore(store: StoredKeyStore): void {
    this.#journal?.append({ t: 'store', store });
    this.#region(store.region).stores.set(store.id, store);
    this.#journal?.maybeCompact();
  }

  /** Deletes a custom key store record; durable before it returns. */
  deleteStore(region: string, id: string): void {
    this.#journal?.append({ t: 'unstore', region, id });
    this.#regions.get(region)?.stores.delete(id);
    this.#journal?.maybeCompact();
  }

  /** Creates or repoints an alias; durable before it returns. */
  putAlias(region: string, name: string, targetKeyId: string): Alias {
    const now = this.#now();
    const old = this.#regions.get(region)?.aliases.get(name);
    const stored: StoredAlias = {
      region,
      name,
      targetKeyId,
      creationDate: old?.stored.creationDate ?? now,
      lastUpdatedDate: now,
    };
    this.#journal?.append({ t: 'alias', alias: stored });
    const alias: Alias = { stored, arn: this.aliasArn(region, name) };
    this.#region(region).aliases.set(name, alias);
    this.#journal?.maybeCompact();
    return alias;
  }

  /** Deletes an alias; durable before it returns. */
  deleteAlias(region: string, name: string): void {
    this.#journal?.append({ t: 'unalias', region, name });
    this.#regions.get(region)?.aliases.delete(name);
    this.#journal?.maybeCompact();
  }

  close(): void {
    this.#journal?.close();
  }
}
