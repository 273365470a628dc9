import { randomBytes } from 'node:crypto';
import { BkdrError, IntegrityError, LockedError, OperationError, UsageError } from '../core/errors.js';
import type { ObjectInfo, StorageAdapter } from '../storage/adapter.js';
import { type BlobEntries, BlobIndex, type BlobLocation, type BlobType } from './blob-index.js';
import type { BufferPool } from './buffer-pool.js';
import type { CompressionSettings } from './compression.js';
import { unseal } from './crypto.js';
import { Envelope } from './envelope.js';
import { type ChunkerParams, FastCdc } from './fastcdc.js';
import { type IndexedPack, type IndexReading, loadIndex, readIndexFiles } from './index-loading.js';
import { type KeyInfo, listKeys, removeKey, unlockMasterKey, writeKeyFile } from './keys.js';
import { noteRepositoryOpened, rememberKeySlot } from './keys-ahead.js';
import { IndexFilesAhead } from './index-files-ahead.js';
import { type BlobMaker, type FailedWritesLeft, type FlushResult, PackWriter, type SaveBlobResult } from './pack-writer.js';
import type { PackBlobs } from './pack-blobs.js';
import { type OnPackBlob, PackReader, type PackCheck } from './pack-reader.js';
import { packKey, type PackHeaderEntry } from './pack.js';
import type { Snapshot, SnapshotInput } from './snapshot.js';
import { CONFIG_KEY, encodeConfig, FORMAT, newConfig, parseConfig, type RepoConfig, readConfigEnvelope } from './repo-config.js';
import { SideObjects } from './side-objects.js';
import { SnapshotStore } from './snapshot-store.js';
import { CREATION_OPERATION, type LockRequest, RepositoryLock } from './repository-lock.js';
import type { TreeNode } from './tree-node.js';
import type { WholePacks } from './whole-packs.js';

export type { BlobEntries, BlobLocation, BlobType } from './blob-index.js';
export type { CompressionAlgorithm, CompressionSettings } from './compression.js';
export type { ChunkerParams } from './fastcdc.js';
export type { IndexedPack } from './index-loading.js';
export type { KeyInfo } from './keys.js';
export { IndexedBlobs, LocatedBlobs, type PackBlobs } from './pack-blobs.js';
export type { OnPackBlob, PackCheck } from './pack-reader.js';
export type { BlobMaker, BlobSealing, FailedWritesLeft, FlushResult, MadeBlob, SaveBlobResult } from './pack-writer.js';
export type { RepoConfig } from './repo-config.js';

export interface OpenOptions {
  /** null: an unencrypted repository. */
  password: string | null;
  compression?: CompressionSettings;
  /** Target pack size in bytes. */
  packSize?: number;
  uploadConcurrency?: number;
  /** Held from before the index is read until close(), so prune and backups never overlap badly. */
  lock?: LockRequest | undefined;
  /** Open even when an index file is damaged (verify and repair): it is skipped and listed in `damagedIndexFiles`. */
  tolerateDamagedIndex?: boolean | undefined;
  /** Do not read the index: for a session that never touches blobs (side objects only) and may run often. */
  skipIndex?: boolean | undefined;
  /**
   * Called at most once, as the first key slot's derivation starts; never for an
   * unencrypted repository. scrypt then runs on the pool for 0.1-0.2 s and leaves the
   * calling thread idle: a time for a caller's own blocking work (after it returns).
   */
  onKeyDerivation?: (() => void) | undefined;
}

/**
 * A repository on one destination (DESIGN.md "The repository"): content-addressed
 * blobs in packs, an index, trees and snapshots, written packs → index → snapshot so
 * a crash never leaves a snapshot pointing at missing data.
 */
export class Repository {
  readonly adapter: StorageAdapter;
  readonly config: RepoConfig;
  readonly #envelope: Envelope;
  readonly #index = new BlobIndex();
  readonly #writer: PackWriter;
  readonly #reader: PackReader;
  readonly #snapshots: SnapshotStore;
  /** The repository's compression, also for side objects. */
  readonly #compression: CompressionSettings;
  #keyId: string | undefined;
  #chunker: FastCdc | undefined;
  #lock: RepositoryLock | undefined;
  /** While a new repository's key file, config and lock are being written (#startCreating): every write waits for it. */
  #creating: Promise<void> | undefined;
  /** How index files are opened: damaged ones fail the open, or are skipped and listed in damagedIndexFiles. */
  readonly #indexReading: IndexReading;
  /** Index files skipped on open because they are damaged (only with `tolerateDamagedIndex`). */
  readonly damagedIndexFiles: { id: string; problem: string }[] = [];
  readonly #loadedIndexFiles: string[] = [];

  /** `format`: the repository's format version (see FORMAT). */
  private constructor(adapter: StorageAdapter, config: RepoConfig, key: Buffer | undefined, keyId: string | undefined, opts: OpenOptions, format: number) {
    this.adapter = adapter;
    this.config = config;
    this.#keyId = keyId;
    this.#envelope = new Envelope(key, adapter.name);
    this.#compression = opts.compression ?? { algorithm: 'lz4' };
    const created = () => this.#created();
    this.#writer = new PackWriter(adapter, this.#envelope, this.#index, format, { compression: this.#compression, packSize: opts.packSize, uploadConcurrency: opts.uploadConcurrency }, created);
    this.#reader = new PackReader(adapter, this.#envelope, this.#index);
    this.#snapshots = new SnapshotStore(adapter, this.#envelope, created);
    this.#indexReading = { destination: adapter.name, envelope: this.#envelope, tolerateDamaged: opts.tolerateDamagedIndex ?? false, damaged: this.damagedIndexFiles };
  }

  get id(): string {
    return this.config.id;
  }

  get encrypted(): boolean {
    return this.#envelope.key !== undefined;
  }

  static async exists(adapter: StorageAdapter): Promise<boolean> {
    return (await adapter.stat(CONFIG_KEY)) !== undefined;
  }

  /** `chunker` may carry a sibling repository's parameters, seed included, so one chunking pass serves both. */
  static async create(adapter: StorageAdapter, opts: OpenOptions & { chunker?: Partial<ChunkerParams> | undefined }, ownLocks: readonly string[] = []): Promise<Repository> {
    const repo = await Repository.#startCreating(adapter, opts, ownLocks);
    await repo.#created();
    return repo;
  }

  /**
   * A new repository, usable at once: its config and master key exist in memory, while its
   * key file (scrypt: 0.2 s on the thread pool), config and lock are written in the
   * background, so a first backup chunks and seals meanwhile. Every write waits for them,
   * in that order, so an interrupted creation still leaves no config and no repository.
   * `initLock`, the exclusive lock taken to create, is released once the config is there.
   */
  static async #startCreating(
    adapter: StorageAdapter,
    opts: OpenOptions & { chunker?: Partial<ChunkerParams> | undefined },
    ownLocks: readonly string[],
    initLock?: RepositoryLock,
  ): Promise<Repository> {
    if (await Repository.exists(adapter)) throw new UsageError(`destination ${adapter.name} already holds a repository`);
    const config = newConfig(opts.chunker, opts.password !== null);
    const password = opts.password;
    const key = password === null ? undefined : randomBytes(32);
    const repo = new Repository(adapter, config, key, undefined, opts, FORMAT);
    repo.#creating = (async () => {
      try {
        try {
          const slot = key && password !== null ? await writeKeyFile(adapter, key, password) : undefined;
          repo.#keyId = slot?.id;
          // The config goes last: a repository whose creation was interrupted has no config and is not one yet.
          await adapter.put(CONFIG_KEY, encodeConfig(config, key));
          // The slot the next run of this config opens, with the same password (keys-ahead.ts).
          if (slot) rememberKeySlot(slot.salt, slot.params);
          noteRepositoryOpened();
        } catch (err) {
          // Its key would wrap a master key no config uses, and be tried first by a later open.
          if (repo.#keyId) await adapter.delete(`keys/${repo.#keyId}`).catch(() => undefined);
          if (err instanceof BkdrError) throw err;
          throw new OperationError(`destination ${adapter.name}: cannot create the repository: ${(err as Error).message}`, { cause: err });
        }
        if (opts.lock) repo.#lock = await RepositoryLock.acquire(adapter, opts.lock, ownLocks);
      } finally {
        await initLock?.release();
      }
    })();
    // Seen by the first write, or by close() when a run ends before writing anything.
    repo.#creating.catch(() => undefined);
    return repo;
  }

  /** Waits until a repository being created is written; its failure fails the write that waits. */
  async #created(): Promise<void> {
    await this.#creating;
  }

  static async open(adapter: StorageAdapter, opts: OpenOptions, ownLocks: readonly string[] = []): Promise<Repository> {
    const { format, sealed, body } = await readConfigEnvelope(adapter);
    if (sealed && opts.password === null) throw new UsageError(`destination ${adapter.name} is encrypted: a password is needed (BKDR_PASSWORD, BKDR_PASSWORD_FILE, BKDR_PASSWORD_COMMAND)`);
    // The lock comes before the index: what the index names must not be pruned under us.
    // Both are fetched while the key is derived (scrypt: 0.2 s on the pool, this thread
    // idle); a lock that may wait only after, so a wrong password is told at once.
    const startLocking = () => {
      const locking = opts.lock ? RepositoryLock.acquire(adapter, opts.lock, ownLocks) : Promise.resolve(undefined);
      const indexFiles = opts.skipIndex ? undefined : locking.then(() => IndexFilesAhead.list(adapter, true));
      // Heard below; until then a rejection must not count as unhandled.
      locking.catch(() => undefined);
      indexFiles?.catch(() => undefined);
      return { locking, indexFiles };
    };
    let started = opts.lock?.waitMs ? undefined : startLocking();
    let lock: RepositoryLock | undefined;
    try {
      let key: Buffer | undefined;
      let keyId: string | undefined;
      let plain = body;
      if (sealed) {
        let opened: Buffer | undefined;
        // A key slot left by a creation that never wrote its config opens with the same password: the config tells.
        ({ key, keyId } = await unlockMasterKey(adapter, opts.password!, opts.onKeyDerivation, (candidate) => {
          try {
            opened = unseal(candidate, body);
            return true;
          } catch {
            return false;
          }
        }));
        if (!opened) throw new IntegrityError(`destination ${adapter.name}: the repository config fails authentication`);
        plain = opened;
      }
      const repo = new Repository(adapter, parseConfig(plain), key, keyId, opts, format);
      started ??= startLocking();
      repo.#lock = lock = await started.locking;
      if (started.indexFiles) {
        const indexFiles = await started.indexFiles;
        for (const key of indexFiles.keys) repo.#loadedIndexFiles.push(key.slice('index/'.length));
        await loadIndex(indexFiles, repo.#index, repo.#indexReading);
      }
      noteRepositoryOpened();
      return repo;
    } catch (err) {
      // A refused open (wrong password, damaged index) leaves no lock and no read behind, even those started meanwhile.
      await (await started?.indexFiles?.catch(() => undefined))?.settled();
      await (lock ?? (await started?.locking.catch(() => undefined)))?.release();
      throw err;
    }
  }

  /**
   * `inBackground`: a new repository is returned before its key file, config and lock are
   * written (#startCreating); only for a caller sure to write (a backup run writes its
   * snapshot), since a failed creation is reported to the first write, not here.
   */
  static async openOrCreate(adapter: StorageAdapter, opts: OpenOptions & { chunker?: Partial<ChunkerParams> | undefined; inBackground?: boolean }): Promise<{ repo: Repository; created: boolean }> {
    if (await Repository.exists(adapter)) return { repo: await Repository.open(adapter, opts), created: false };
    // Two runs creating one repository at once would each write their own key and config:
    // creation is exclusive, and the run that waited for it (RepositoryLock.acquire waits
    // for a creation whatever its own wait) opens what the other created.
    let creating: RepositoryLock;
    try {
      creating = await RepositoryLock.acquire(adapter, { exclusive: true, operation: CREATION_OPERATION, waitMs: opts.lock?.waitMs, onStale: opts.lock?.onStale });
    } catch (err) {
      // Another run created it since, and holds its own lock on it now: open what it created.
      if (err instanceof LockedError && (await Repository.exists(adapter))) return { repo: await Repository.open(adapter, opts), created: false };
      throw err;
    }
    let handedOver = false;
    try {
      if (await Repository.exists(adapter)) return { repo: await Repository.open(adapter, opts, [creating.id]), created: false };
      const repo = await Repository.#startCreating(adapter, opts, [creating.id], creating);
      handedOver = true;
      if (!opts.inBackground) await repo.#created();
      return { repo, created: true };
    } finally {
      if (!handedOver) await creating.release();
    }
  }

  chunker(): FastCdc {
    this.#chunker ??= new FastCdc(this.config.chunker);
    return this.#chunker;
  }

  hasBlob(id: string): boolean {
    return this.#index.has(id) || this.#writer.isPending(id);
  }

  lookupBlob(id: string): BlobLocation | undefined {
    return this.#index.get(id);
  }

  /**
   * The index files this session knows, by id: those stored when it opened and those it
   * wrote since. Only prune and repair delete any (DirCache tells by them that a blob its
   * trees reach may be gone).
   */
  get indexFileIds(): ReadonlySet<string> {
    return new Set([...this.#loadedIndexFiles, ...this.#writer.writtenIndexFiles]);
  }

  /** The packs the index names. */
  get indexedPackIds(): readonly string[] {
    return this.#index.packIds;
  }

  /** The index by entry number: for holding many blobs at once without an object each. */
  get blobEntries(): BlobEntries {
    return this.#index;
  }

  get blobCount(): number {
    return this.#index.size;
  }

  // ---- writing ----

  /** `rewrite`: store it even though the index has it (prune moving a blob out of a pack it deletes). */
  saveBlob(type: BlobType, id: string, plaintext: Buffer, opts: { rewrite?: boolean } = {}): Promise<SaveBlobResult> {
    return this.#writer.saveBlob(type, id, plaintext, opts);
  }

  /** Many small blobs sealed in one trip to the pool; blobs already stored (or repeated) are skipped. */
  saveBlobs(type: BlobType, blobs: { id: string; data: Buffer }[]): Promise<SaveBlobResult[]> {
    return this.#writer.saveBlobs(type, blobs);
  }

  /** Blobs whose ids are known only once `make` has run, which may seal them in the same trip to the pool (PackWriter.saveMadeBlobs). */
  saveMadeBlobs(type: BlobType, bound: number, make: BlobMaker): Promise<SaveBlobResult[]> {
    return this.#writer.saveMadeBlobs(type, bound, make);
  }

  /** `storedTexts`: nodes known to be stored as these texts (serializeTree). */
  saveTree(nodes: TreeNode[], storedTexts?: ReadonlyMap<TreeNode, string>): Promise<string> {
    return this.#writer.saveTree(nodes, storedTexts);
  }

  /** Finishes open packs, waits for every upload, then writes one index file for them. */
  flush(): Promise<FlushResult> {
    return this.#writer.flush();
  }

  /** Writes one index file naming `packs`; returns its id. */
  writeIndexFile(packs: IndexedPack[]): Promise<string> {
    return this.#writer.writeIndexFile(packs);
  }

  /** After a write failed: this session's stored packs are indexed, or deleted (PackWriter.settleAfterFailure). Never throws. */
  settleAfterFailure(): Promise<FailedWritesLeft> {
    return this.#writer.settleAfterFailure();
  }

  /** Highest number of bytes held in memory by open and uploading packs (for tests of the bound). */
  get pendingHighWater(): number {
    return this.#writer.pendingHighWater;
  }

  // ---- reading ----

  loadBlob(id: string): Promise<Buffer> {
    return this.#reader.loadBlob(id);
  }

  /**
   * The blobs of one pack, in pack order, from one ranged read per span (PackReader.readPack):
   * `onBlob` gets each by its position in `blobs`, and the read waits for what it returns.
   */
  readPack(packId: string, blobs: PackBlobs, onBlob: OnPackBlob, buffers?: BufferPool): Promise<void> {
    return this.#reader.readPack(packId, blobs, onBlob, buffers);
  }

  loadTree(id: string): Promise<TreeNode[]> {
    return this.#reader.loadTree(id);
  }

  /** Trees read together, up to `maxBytes` of plaintext (PackReader.loadTrees); from `whole`'s packs where it keeps them. */
  loadTrees(ids: readonly string[], maxBytes = Number.POSITIVE_INFINITY, whole?: WholePacks): Promise<{ trees: Map<string, Buffer>; taken: number }> {
    return this.#reader.loadTrees(ids, maxBytes, whole);
  }

  /** Which of the trees read together read back, their data not kept (PackReader.readBackTrees). */
  readBackTrees(ids: readonly string[], maxBytes: number, buffers: BufferPool, whole?: WholePacks): Promise<{ read: Set<string>; taken: number }> {
    return this.#reader.readBackTrees(ids, maxBytes, buffers, whole);
  }

  /** Every index file as stored, for prune (which rewrites them) and checks. */
  readIndexFiles(): Promise<{ id: string; packs: IndexedPack[] }[]> {
    return readIndexFiles(this.adapter, this.#indexReading);
  }

  /** Reads a whole pack and checks its bytes and blobs (PackReader.checkPack). */
  checkPack(packId: string, expectedSize: number | undefined, blobs: BlobLocation[]): Promise<PackCheck> {
    return this.#reader.checkPack(packId, expectedSize, blobs);
  }

  /** The pack's blob list from its own header, for rebuilding an index without one. */
  readPackHeader(packId: string, size: number): Promise<PackHeaderEntry[]> {
    return this.#reader.readPackHeader(packId, size);
  }

  /** Every pack stored, indexed or not: `id` is the pack id. */
  async *listPacks(): AsyncIterable<ObjectInfo & { id: string }> {
    for await (const obj of this.adapter.list('data/')) yield { ...obj, id: obj.key.slice(obj.key.lastIndexOf('/') + 1) };
  }

  async deleteIndexFile(id: string): Promise<void> {
    await this.adapter.delete(`index/${id}`);
  }

  async deletePack(id: string): Promise<void> {
    await this.adapter.delete(packKey(id));
  }

  // ---- snapshots ----

  async saveSnapshot(input: SnapshotInput): Promise<string> {
    if (this.#writer.unflushed) throw new Error('saveSnapshot before flush: the snapshot must be written last');
    return this.#snapshots.save(input);
  }

  listSnapshots(): Promise<Snapshot[]> {
    return this.#snapshots.list();
  }

  loadSnapshot(idOrPrefix: string): Promise<Snapshot> {
    return this.#snapshots.load(idOrPrefix);
  }

  deleteSnapshot(id: string): Promise<void> {
    return this.#snapshots.delete(id);
  }

  // ---- side objects ----

  /**
   * Sealed objects of a layer above under `prefix` (ending with '/'), outside the blob
   * store: never one of the repository's own prefixes (config, keys/, data/, index/,
   * snapshots/, locks/).
   */
  sideObjects(prefix: string): SideObjects {
    if (!prefix.endsWith('/') || /^(config|keys|data|index|snapshots|locks)\//.test(prefix)) throw new Error(`'${prefix}' cannot hold side objects`);
    return new SideObjects(this.adapter, prefix, this.#envelope, this.#compression, () => this.#created());
  }

  // ---- keys ----

  async addKey(password: string): Promise<string> {
    if (!this.#envelope.key) throw new UsageError(`destination ${this.adapter.name} is not encrypted: it has no keys`);
    await this.#created();
    return (await writeKeyFile(this.adapter, this.#envelope.key, password)).id;
  }

  async listKeys(): Promise<KeyInfo[]> {
    await this.#created();
    return listKeys(this.adapter, this.#keyId);
  }

  /** Removes a key slot by id or prefix; never the last one, nor the one in use. Returns its full id. */
  async removeKey(id: string): Promise<string> {
    return removeKey(this.adapter, id, await this.listKeys());
  }

  /** The id of the key slot this repository was opened with (undefined: not encrypted, or a new one whose key file is still being written). */
  get keyId(): string | undefined {
    return this.#keyId;
  }

  async close(): Promise<void> {
    // A creation that failed already failed the run's first write, or the run wrote nothing.
    await this.#creating?.catch(() => undefined);
    // Not while a tree is still being sealed into a pack: the lock goes, and a prune may come.
    await this.#writer.stopSealingTrees();
    await this.#writer.close();
    await this.#lock?.release();
    await this.adapter.close?.();
  }
}
