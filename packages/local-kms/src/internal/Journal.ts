import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';

/**
 * Durable storage for local-kms: a snapshot (`state.json`) plus an append-only journal
 * (`journal.jsonl`) of full-record upserts and deletes.
 *
 * Every mutating request appends one line and `fdatasync`s it before the response goes out, so a
 * `kill -9` at any moment loses nothing that was acknowledged; a torn last line (written but never
 * synced, so never acknowledged) is ignored on start. On start the journal is replayed over the
 * snapshot, the result is written as a new snapshot (temp file, fsync, rename, fsync of the directory)
 * and the journal is emptied. Records are absolute (a whole key, a whole alias), so replaying a journal
 * twice gives the same state: a crash between the rename and the truncation is harmless.
 *
 * The sync calls block the event loop for one disk flush per mutation; that is deliberate. KMS's
 * control-plane quotas are 5 to 15 requests per second, and applying a mutation in memory only after it
 * is on disk means no request can ever observe state that a crash would take back. Crypto operations
 * never touch the disk.
 */

/** A journal record. Keys carry their material sealed under the master key. */
export type JournalRecord =
  | { readonly t: 'key'; readonly key: StoredKey }
  | { readonly t: 'store'; readonly store: StoredKeyStore }
  | { readonly t: 'unstore'; readonly region: string; readonly id: string }
  | { readonly t: 'alias'; readonly alias: StoredAlias }
  | { readonly t: 'unalias'; readonly region: string; readonly name: string };

/** A key as stored: everything but the plaintext material. */
export interface StoredKey {
  readonly region: string;
  readonly id: string;
  readonly creationDate: number;
  readonly description: string;
  readonly keyUsage: string;
  readonly keySpec: string;
  readonly origin: string;
  readonly state: 'Enabled' | 'Disabled' | 'PendingDeletion';
  readonly deletionDate?: number;
  readonly pendingWindowInDays?: number;
  readonly policy: string;
  readonly tags: readonly { readonly TagKey: string; readonly TagValue: string }[];
  /** Material versions in order, each sealed with AES-256-GCM under the master key, base64. */
  readonly materials: readonly string[];
  /** Grants on the key (recorded, not enforced). */
  readonly grants?: readonly StoredGrant[];
  /** The custom key store holding the key, if any. */
  readonly customKeyStoreId?: string;
  /** Multi-Region keys: the primary's region and every region holding a copy (primary included). */
  readonly multiRegion?: { readonly primaryRegion: string; readonly regions: readonly string[] };
  /** Automatic rotation (symmetric keys): on, its period in days, and the next date in ms. */
  readonly rotationEnabled?: boolean;
  readonly rotationPeriodInDays?: number;
  readonly nextRotationDate?: number;
  /** One entry per rotation, oldest first: material version `i + 1` came from `rotations[i]`. */
  readonly rotations?: readonly {
    readonly date: number;
    readonly type: 'AUTOMATIC' | 'ON_DEMAND';
  }[];
}

/** A grant as stored, in the shape of the SDK's `GrantListEntry` minus `KeyId`. */
export interface StoredGrant {
  readonly GrantId: string;
  readonly GrantToken: string;
  readonly Name?: string;
  readonly CreationDate: number;
  readonly GranteePrincipal: string;
  readonly RetiringPrincipal?: string;
  readonly Operations: readonly string[];
  readonly Constraints?: Readonly<Record<string, unknown>>;
}

/** A simulated CloudHSM custom key store. */
export interface StoredKeyStore {
  readonly region: string;
  readonly id: string;
  readonly name: string;
  readonly cloudHsmClusterId: string;
  readonly trustAnchorCertificate: string;
  readonly state: 'CONNECTED' | 'DISCONNECTED';
  readonly creationDate: number;
}

/** An alias as stored. */
export interface StoredAlias {
  readonly region: string;
  readonly name: string;
  readonly targetKeyId: string;
  readonly creationDate: number;
  readonly lastUpdatedDate: number;
}

/** The environment variable holding the master key, base64 of 32 bytes. */
export const MASTER_KEY_ENV = 'LOCAL_KMS_MASTER_KEY';

const SNAPSHOT = 'state.json';
const LOCK = 'lock';
const JOURNAL = 'journal.jsonl';
const MASTER_FILE = 'master.key';

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `path` atomically and durably: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(dir: string, name: string, data: string, mode = 0o600): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  fsyncDir(dir);
}

/**
 * The master key: `LOCAL_KMS_MASTER_KEY` (base64 of 32 bytes) when set, else `dataDir/master.key`,
 * generated with mode 0600 on first start.
 */
export function loadMasterKey(dir: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const key = Buffer.from(fromEnv, 'base64');
    if (key.length !== 32) throw new RangeError(`${MASTER_KEY_ENV} must be base64 of 32 bytes`);
    return key;
  }
  const path = join(dir, MASTER_FILE);
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new RangeError(`${path} must hold base64 of 32 bytes`);
    return key;
  }
  const key = randomBytes(32);
  writeFileAtomic(dir, MASTER_FILE, `${key.toString('base64')}\n`, 0o600);
  return key;
}

/** Seals key material under the master key; `aad` binds it to its key and version. */
export function sealMaterial(master: Buffer, material: Buffer, aad: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', master, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(material), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]).toString('base64');
}

/** Opens sealed material; throws when the master key is not the one that sealed it. */
export function openMaterial(master: Buffer, sealed: string, aad: string): Buffer {
  const raw = Buffer.from(sealed, 'base64');
  const d = createDecipheriv('aes-256-gcm', master, raw.subarray(0, 12));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(raw.subarray(raw.length - 16));
  try {
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
  } catch (cause) {
    throw new Error(
      `local-kms: cannot open key material; the master key (${MASTER_KEY_ENV} or master.key) is not the one this dataDir was written with`,
      { cause },
    );
  }
}

interface Snapshot {
  readonly format: 1;
  readonly keys: StoredKey[];
  readonly aliases: StoredAlias[];
  readonly stores?: StoredKeyStore[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `dir/lock` for this process: two servers appending to one journal would corrupt it. A lock
 * left by a process that is gone (killed with `kill -9`) is taken over.
 */
/** Data directories open in this process (the pid in a lock file cannot tell two of ours apart). */
const openHere = new Set<string>();

function lock(dir: string): void {
  const path = join(dir, LOCK);
  if (openHere.has(path)) throw new Error(`local-kms: ${dir} is already open in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      openHere.add(path);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new Error(`local-kms: ${dir} is in use by process ${holder}`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`local-kms: could not lock ${dir}`);
}

function unlock(dir: string): void {
  const path = join(dir, LOCK);
  openHere.delete(path);
  rmSync(path, { force: true });
}

/** The state read back from disk. */
export interface LoadedState {
  readonly keys: StoredKey[];
  readonly aliases: StoredAlias[];
  readonly stores: StoredKeyStore[];
}

function parseJournal(text: string, path: string): JournalRecord[] {
  const lines = text.split('\n');
  const records: JournalRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === undefined || line === '') continue;
    try {
      records.push(JSON.parse(line) as JournalRecord);
    } catch (cause) {
      // Only the last line can be torn (appended but never synced, so never acknowledged).
      const rest = lines.slice(i + 1).some((l) => l !== '');
      if (rest) throw new Error(`local-kms: ${path} line ${i + 1} is corrupt`, { cause });
    }
  }
  return records;
}

/** The append-only journal of one data directory. */
export class Journal {
  readonly dir: string;
  #fd: number | undefined;
  #records = 0;
  #source: (() => LoadedState) | undefined;
  readonly #compactEvery: number;

  private constructor(dir: string, fd: number, compactEvery: number) {
    this.dir = dir;
    this.#fd = fd;
    this.#compactEvery = compactEvery;
  }

  /**
   * Gives the journal a way to read the whole current state, so that after `compactEvery` records it
   * can write a fresh snapshot and start an empty journal instead of growing without bound.
   */
  compactFrom(source: () => LoadedState): void {
    this.#source = source;
  }

  /** Writes `state` as the snapshot (atomically) and then empties the journal. */
  #rewrite(state: LoadedState): void {
    const snapshot: Snapshot = {
      format: 1,
      keys: state.keys,
      aliases: state.aliases,
      stores: state.stores,
    };
    writeFileAtomic(this.dir, SNAPSHOT, JSON.stringify(snapshot));
    // The snapshot is durable before the journal is emptied; a crash in between replays records
    // that are already in the snapshot, which is harmless because every record is absolute.
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = openSync(join(this.dir, JOURNAL), 'w', 0o600);
    fsyncSync(this.#fd);
    fsyncDir(this.dir);
    this.#records = 0;
  }

  /**
   * Opens `dir` (creating it), replays snapshot and journal, lets `compact` drop what is gone (keys past
   * their deletion date), writes the compacted snapshot and starts an empty journal.
   */
  static open(
    dir: string,
    compact: (state: LoadedState) => LoadedState,
    compactEvery = 10_000,
  ): { journal: Journal; state: LoadedState } {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    lock(dir);
    try {
      const keys = new Map<string, StoredKey>();
      const aliases = new Map<string, StoredAlias>();
      const stores = new Map<string, StoredKeyStore>();
      const snapPath = join(dir, SNAPSHOT);
      if (existsSync(snapPath)) {
        const snap = JSON.parse(readFileSync(snapPath, 'utf8')) as Snapshot;
        if (snap.format !== 1) throw new Error(`local-kms: ${snapPath} has an unknown format`);
        for (const k of snap.keys) keys.set(`${k.region}/${k.id}`, k);
        for (const a of snap.aliases) aliases.set(`${a.region}/${a.name}`, a);
        for (const c of snap.stores ?? []) stores.set(`${c.region}/${c.id}`, c);
      }
      const journalPath = join(dir, JOURNAL);
      if (existsSync(journalPath)) {
        for (const r of parseJournal(readFileSync(journalPath, 'utf8'), journalPath)) {
          if (r.t === 'key') keys.set(`${r.key.region}/${r.key.id}`, r.key);
          else if (r.t === 'alias') aliases.set(`${r.alias.region}/${r.alias.name}`, r.alias);
          else if (r.t === 'unalias') aliases.delete(`${r.region}/${r.name}`);
          else if (r.t === 'store') stores.set(`${r.store.region}/${r.store.id}`, r.store);
          else stores.delete(`${r.region}/${r.id}`);
        }
      }
      const state = compact({
        keys: [...keys.values()],
        aliases: [...aliases.values()],
        stores: [...stores.values()],
      });
      const journal = new Journal(dir, openSync(journalPath, 'a', 0o600), compactEvery);
      journal.#rewrite(state);
      return { journal, state };
    } catch (e) {
      unlock(dir);
      throw e;
    }
  }

  /** Appends one record and flushes it to disk before returning. */
  append(record: JournalRecord): void {
    if (this.#fd === undefined) throw new Error('local-kms: journal is closed');
    writeSync(this.#fd, `${JSON.stringify(record)}\n`);
    fdatasyncSync(this.#fd);
    this.#records++;
  }

  /**
   * Compacts when `compactEvery` records have accumulated. Call it only once the appended records are
   * applied in memory: the snapshot is taken from memory and the journal is emptied after it.
   */
  maybeCompact(): void {
    if (this.#records >= this.#compactEvery && this.#source !== undefined) {
      this.#rewrite(this.#source());
    }
  }

  /** Closes the journal and releases the directory's lock. */
  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    unlock(this.dir);
  }
}
