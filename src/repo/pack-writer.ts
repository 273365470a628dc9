import { alignedBuffer } from '../core/aligned-buffer.js';
import { BkdrError, IntegrityError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import { Slots } from '../core/slots.js';
import type { StorageAdapter, StreamedObject } from '../storage/adapter.js';
import type { BlobIndex, BlobType } from './blob-index.js';
import { encodeRecord, encodeRecords, recordsBound } from './blob-codec.js';
import { BACKUP_IDLE_DISCARD_MS, BufferPool } from './buffer-pool.js';
import type { CompressionSettings, CompressionTag } from './compression.js';
import type { Envelope } from './envelope.js';
import { IndexFileEncoder } from './index-file-encoder.js';
import type { IndexedPack, IndexFile } from './index-loading.js';
import { encodeMetadata } from './metadata-codec.js';
import { PackBuilder, packKey, type PackRecord } from './pack.js';
import { serializeTree } from './tree.js';
import type { TreeNode } from './tree-node.js';

/**
 * A pack buffer is filled to the pack size before it is written. With 16 MiB packs
 * (restic's size), the bench's first backup peaked with three buffers of 18 MiB; with
 * 8 MiB, four or five of 10 MiB. With the arena limit (core/malloc-policy.ts), the
 * first backup's peak RSS fell from 231 to 215 MiB (means of six alternating runs).
 */
const DEFAULT_PACK_SIZE = 8 * 1024 * 1024;
/**
 * Packs held in memory (open or uploading) before saveBlob waits: bounds memory whatever
 * the input. Four default packs are 32 MiB, as two of 16 MiB were: two of 8 MiB left a
 * large file's backup waiting on its writes, 10 % slower.
 */
const MAX_PENDING_PACKS = 4;
/**
 * One open pack per blob type, filled in the order sealings end. Two (one per sealing in
 * flight, or one for small-file batches and one for large files' chunks) sealed more in
 * place, but restores of their layout measured up to 10 % slower: a restore writes pack
 * by pack, and mixed packs keep file creation and large writes going side by side.
 */
const OPEN_PACKS = 1;
/** Blobs named by one index file at most, while a backup runs. */
const INDEX_EVERY_BLOBS = 50_000;
/** Room beyond the pack size for the record that crosses it: the largest chunk plus its framing. */
const MAX_RECORD_SLACK = 8 * 1024 * 1024 + 64 * 1024;
/** Pack buffers kept for the next packs: one per pending pack, and the open ones. */
const REUSED_PACK_BUFFERS = MAX_PENDING_PACKS + OPEN_PACKS;
/**
 * Trees sealed together in one trip to the pool (PackWriter.saveTree), at most, and the
 * plaintext bytes after which a batch goes without waiting to fill. One trip per tree cost
 * the walk's thread more than the sealing: in a first backup of the bench's real tree,
 * 4,861 trips for as many trees.
 */
const TREE_BATCH_TREES = 64;
const TREE_BATCH_BYTES = 512 * 1024;
/** Batches of trees sealed at once: each holds its plaintexts until they are in a pack, so this bounds what a walk can run ahead with. */
const TREE_BATCHES_SEALED_AT_ONCE = 2;
/** Record buffers kept for the next records: those being sealed at once (chunks of up to 8 MiB, batches of small blobs). */
const REUSED_RECORD_BYTES = 32 * 1024 * 1024;

export interface SaveBlobResult {
  stored: boolean;
  storedSize: number;
}

/** How a writer seals blobs of one type: under this key (undefined: unencrypted), with this compression. */
export interface BlobSealing {
  key: Buffer | undefined;
  compression: CompressionSettings;
}

/** A blob made by a caller's own trip to the pool (saveMadeBlobs): its id, its data, and its record when sealed there. */
export interface MadeBlob {
  id: string;
  data: Buffer;
  sealed?: { record: Buffer; tag: CompressionTag } | undefined;
}

/**
 * Makes blobs whose ids are known only once made (small files read and hashed). With
 * `seal`, it may seal them into `seal.into` as the writer would; undefined, it seals none.
 */
export type BlobMaker = (seal: { into: Buffer; sealing: BlobSealing } | undefined) => Promise<MadeBlob[]>;

/** What a failed backup's stored packs became (Repository.settleAfterFailure). */
export interface FailedWritesLeft {
  /** Named in an index file: the next run reuses them. */
  indexed: { packs: number; bytes: number };
  /** Deleted: no index could name them. */
  deleted: { packs: number; bytes: number };
  /** Neither indexed nor deletable: taking space until `backup prune`. */
  left: { packs: number; bytes: number };
}

export interface FlushResult {
  packs: number;
  blobs: number;
  storedBytes: number;
}

/**
 * Writing blobs (restic's packer manager): each is sealed into the open pack of its type;
 * a full pack is uploaded (at most `uploadConcurrency` at once), checked, added to the
 * in-memory index, and named in an index file every INDEX_EVERY_BLOBS blobs and on flush.
 * Memory is bounded: saves wait while MAX_PENDING_PACKS packs are held.
 */
export class PackWriter {
  readonly #adapter: StorageAdapter;
  readonly #envelope: Envelope;
  /** The master key (undefined: unencrypted), which seals blob records. */
  readonly #key: Buffer | undefined;
  /** The repository's format: 2 gzips pack headers and index files, 1 keeps them plain JSON. */
  readonly #format: number;
  readonly #compression: CompressionSettings;
  readonly #packSize: number;
  readonly #uploadConcurrency: number;
  readonly #uploadSlots: Slots;
  readonly #index: BlobIndex;
  /** Waits until a repository being created is written: every write waits for it. */
  readonly #created: () => Promise<void>;
  /** Packs being filled, by blob type. */
  readonly #open = new Map<BlobType, PackBuilder>();
  /** Ids saved this session and not yet in a finished pack, so concurrent saves store once. */
  readonly #pending = new Set<string>();
  readonly #uploads = new Set<Promise<void>>();
  /** Trees saved and not yet sent to be sealed (saveTree): the next batch. */
  #treeBatch: { id: string; data: Buffer }[] = [];
  #treeBatchBytes = 0;
  /** Batches of trees being sealed in the background; they settle, never reject: a failure is #uploadError. */
  readonly #treeSealings = new Set<Promise<void>>();
  readonly #treeSealSlots = new Slots(TREE_BATCHES_SEALED_AT_ONCE);
  /** The index file naming the packs stored since the last one, encoded as they are stored. */
  #newIndex: IndexFileEncoder | undefined;
  /** Packs, blobs and bytes already named by index files written since the last flush. */
  readonly #indexedSinceFlush = { packs: 0, blobs: 0, storedBytes: 0 };
  /** Index files this writer stored, by id. */
  readonly writtenIndexFiles: string[] = [];
  /** Packs stored and not yet named by an index file: what a failed run would leave unreferenced. */
  #unindexedPacks: { key: string; size: number }[] = [];
  #pendingBytes = 0;
  #pendingHighWater = 0;
  readonly #packBuffers: BufferPool;
  readonly #recordBuffers = new BufferPool(REUSED_RECORD_BYTES, { discardIdleAfter: BACKUP_IDLE_DISCARD_MS });
  #uploadError: unknown;
  /** Closed (close): no pack is opened any more. */
  #closed = false;

  constructor(
    adapter: StorageAdapter,
    envelope: Envelope,
    index: BlobIndex,
    format: number,
    opts: { compression: CompressionSettings; packSize?: number | undefined; uploadConcurrency?: number | undefined },
    created: () => Promise<void>,
  ) {
    this.#adapter = adapter;
    this.#envelope = envelope;
    this.#key = envelope.key;
    this.#format = format;
    this.#index = index;
    this.#created = created;
    this.#compression = opts.compression;
    this.#packSize = opts.packSize ?? DEFAULT_PACK_SIZE;
    // Only local puts use pooled pack buffers (#openPack); they write from aligned memory with O_DIRECT.
    this.#packBuffers = new BufferPool(REUSED_PACK_BUFFERS * BufferPool.sizeClassOf(this.#packSize + MAX_RECORD_SLACK), { allocate: alignedBuffer, discardIdleAfter: BACKUP_IDLE_DISCARD_MS });
    this.#uploadConcurrency = opts.uploadConcurrency ?? 2;
    this.#uploadSlots = new Slots(this.#uploadConcurrency);
  }

  /** Highest number of bytes held in memory by open and uploading packs (for tests of the bound). */
  get pendingHighWater(): number {
    return this.#pendingHighWater;
  }

  /** Saved this session and not yet in a stored pack. */
  isPending(id: string): boolean {
    return this.#pending.has(id);
  }

  /** Packs open or uploading, or an index file not yet written: a flush is due before a snapshot. */
  get unflushed(): boolean {
    return this.#uploads.size > 0 || this.#newIndex !== undefined || this.#open.size > 0 || this.#treeBatch.length > 0 || this.#treeSealings.size > 0;
  }

  #has(id: string): boolean {
    return this.#index.has(id) || this.#pending.has(id);
  }

  /** `rewrite`: store it even though the index has it (prune moving a blob out of a pack it deletes). */
  async saveBlob(type: BlobType, id: string, plaintext: Buffer, opts: { rewrite?: boolean } = {}): Promise<SaveBlobResult> {
    this.#throwUploadError();
    if (opts.rewrite ? this.#pending.has(id) : this.#has(id)) return { stored: false, storedSize: 0 };
    this.#pending.add(id);
    const [storedSize] = await this.#seal(type, [id], [plaintext], async (into) => [await encodeRecord(plaintext, this.#key, this.#compressionFor(type), into)]);
    return { stored: true, storedSize: storedSize! };
  }

  /** Many small blobs sealed in one trip to the pool; blobs already stored (or repeated) are skipped. */
  async saveBlobs(type: BlobType, blobs: { id: string; data: Buffer }[]): Promise<SaveBlobResult[]> {
    this.#throwUploadError();
    const results: SaveBlobResult[] = blobs.map(() => ({ stored: false, storedSize: 0 }));
    const fresh: number[] = [];
    for (const [i, { id }] of blobs.entries()) {
      if (this.#has(id)) continue;
      this.#pending.add(id);
      fresh.push(i);
    }
    if (fresh.length === 0) return results;
    const data = fresh.map((i) => blobs[i]!.data);
    const sizes = await this.#seal(
      type,
      fresh.map((i) => blobs[i]!.id),
      data,
      (into) => encodeRecords(data, this.#key, this.#compressionFor(type), into),
    );
    for (const [k, i] of fresh.entries()) results[i] = { stored: true, storedSize: sizes[k]! };
    return results;
  }

  /**
   * Blobs whose ids are known only once `make` has run, which seals them in the same trip
   * to the pool (readAndSealSmallFiles) into a record buffer (`bound` bytes, room for all
   * of them at their largest), copied into the pack after. Not into the pack's tail: `make`
   * reads files first, and a slow read (a cold disk, a network mount) would hold every
   * other sealing of the type. The records of blobs already stored, pending or repeated are
   * dropped: for those, the sealing was wasted, but a batch was one trip instead of two.
   * Blobs `make` did not seal are sealed as saveBlobs does. Results are in the order `make`
   * returned its blobs.
   */
  async saveMadeBlobs(type: BlobType, bound: number, make: BlobMaker): Promise<SaveBlobResult[]> {
    this.#throwUploadError();
    const lease = this.#recordBuffers.lease(bound);
    let made: MadeBlob[];
    const items: PackRecord[] = [];
    const results: SaveBlobResult[] = [];
    const unsealed: number[] = [];
    try {
      made = await make({ into: lease.buffer, sealing: { key: this.#key, compression: this.#compressionFor(type) } });
      for (const [k, { id, data, sealed }] of made.entries()) {
        results.push({ stored: false, storedSize: 0 });
        if (!sealed) unsealed.push(k);
        else if (!this.#has(id)) {
          this.#pending.add(id);
          items.push({ type, id, record: sealed.record, rawLength: data.length, compression: sealed.tag });
          results[k] = { stored: true, storedSize: sealed.record.length };
        }
      }
    } catch (err) {
      for (const { id } of items) this.#pending.delete(id);
      lease.releases[0]!();
      throw err;
    }
    await this.#place(type, undefined, lease, items);
    if (unsealed.length > 0) {
      const saved = await this.saveBlobs(
        type,
        unsealed.map((k) => made[k]!),
      );
      for (const [n, k] of unsealed.entries()) results[k] = saved[n]!;
    }
    return results;
  }

  /**
   * Seals blobs into the open pack of their type, and returns their records' sizes. They
   * are sealed in place at the pack's tail when no other sealing holds it; else into a
   * record buffer, copied into the pack after (that buffer then serves the next blobs).
   * Waits when too much is held in memory.
   */
  async #seal(type: BlobType, ids: string[], data: Buffer[], seal: (into: Buffer) => Promise<{ record: Buffer; tag: number }[]>): Promise<number[]> {
    const bound = recordsBound(data);
    const pack = this.#openPack(type);
    // Undefined when another sealing holds the tail, a tree pack's first buffer is too small (the copy grows it), or
    // a streamed pack's window is taken (its file is still being written what is before).
    const tail = pack.reserveTail(bound);
    const lease = tail ? undefined : this.#recordBuffers.lease(bound);
    let encoded: { record: Buffer; tag: number }[];
    try {
      encoded = await seal(tail ?? lease!.buffer);
    } catch (err) {
      if (tail) pack.cancelTail();
      lease?.releases[0]!();
      throw this.#encodeFailed(ids, err);
    }
    const items: PackRecord[] = encoded.map(({ record, tag }, k) => ({ type, id: ids[k]!, record, rawLength: data[k]!.length, compression: tag }));
    await this.#place(type, tail ? pack : undefined, lease, items);
    return encoded.map((e) => e.record.length);
  }

  /**
   * Puts sealed records into packs: those sealed into the reserved tail of `inTail` are
   * committed there, any left out moving the next ones up; those sealed into a record buffer
   * (`lease`, released here) are copied into the open pack, each once its tail is free.
   */
  async #place(type: BlobType, inTail: PackBuilder | undefined, lease: { releases: (() => void)[] } | undefined, items: PackRecord[]): Promise<void> {
    if (inTail) {
      inTail.commitTail(items);
      await this.#added(type, inTail, items);
      return;
    }
    let added = 0;
    try {
      for (const item of items) {
        let open = this.#openPack(type);
        // Checked again after each wait: between one sealing's commit and this, another may reserve,
        // or the pack fill up and a new one open.
        while (!open.tailFree || !open.hasRoom(item.record.length)) {
          if (!open.tailFree) await open.tailFreed();
          else await this.#makeRoom(open, item.record.length);
          open = this.#openPack(type);
        }
        open.add(item);
        added++;
        await this.#added(type, open, [item]);
      }
    } finally {
      lease?.releases[0]!();
      // A failed upload stopped the copying: the blobs not copied are in no pack.
      for (const item of items.slice(added)) this.#pending.delete(item.id);
    }
  }

  /** Room in a streamed pack's buffer (PackBuilder.makeRoom); its file failing to take a part fails the run as an upload does. */
  async #makeRoom(pack: PackBuilder, length: number): Promise<void> {
    try {
      await pack.makeRoom(length);
    } catch (err) {
      this.#uploadError ??= err;
      this.#throwUploadError();
    }
  }

  /**
   * Sealing failed (out of memory, no randomness): the blobs are not pending any more, or
   * later files would reference them unstored; and it fails the run, not just one file.
   */
  #encodeFailed(ids: string[], err: unknown): BkdrError {
    for (const id of ids) this.#pending.delete(id);
    return err instanceof BkdrError ? err : new BkdrError(`destination ${this.#adapter.name}: cannot seal a blob: ${(err as Error).message}`, 1, { cause: err });
  }

  #compressionFor(type: BlobType): CompressionSettings {
    // Trees are JSON: gzip shrinks them far more than LZ4. Level 1 stores them within 0.1 % of level 6
    // (measured on the bench's 20 000-file tree) in a fraction of the time.
    return type === 'tree' ? { algorithm: this.#compression.algorithm === 'none' ? 'none' : 'gzip', level: 1 } : this.#compression;
  }

  #openPack(type: BlobType): PackBuilder {
    // A save still under way when the repository closed: its pack would be left unfinished, a streamed one's file for good.
    if (this.#closed) throw new BkdrError(`destination ${this.#adapter.name}: the repository was closed while blobs were being saved`, 1);
    let pack = this.#open.get(type);
    // Data packs fill up, so their buffer is sized for a full pack plus the largest record; tree packs rarely do.
    // Only a local put is over when it returns: a remote one that timed out may still be sending
    // in the background (the timeout races it, it cannot stop it), and its late bytes must be the pack's.
    if (!pack) {
      const local = this.#adapter.kind === 'local';
      // Streamed to its file as it fills, where the destination can take it in parts: its buffer then holds a record and a megabyte, not the pack.
      const streamed = this.#adapter.createStreamed?.('data');
      pack = new PackBuilder(type === 'data' ? this.#packSize + MAX_RECORD_SLACK : 1024 * 1024, local ? this.#packBuffers : undefined, streamed && this.#afterCreation(streamed));
      this.#open.set(type, pack);
    }
    return pack;
  }

  /** A streamed pack's object that writes nothing before the repository is created, as puts wait for it. */
  #afterCreation(object: StreamedObject): StreamedObject {
    return {
      append: async (data) => {
        await this.#created();
        return object.append(data);
      },
      finish: async (tail) => {
        await this.#created();
        return object.finish(tail);
      },
      commit: (key) => object.commit(key),
      abort: () => object.abort(),
    };
  }

  /** Accounts for records just put into `pack`: finishes it when full, waits when too much is held in memory. */
  async #added(type: BlobType, pack: PackBuilder, items: PackRecord[]): Promise<void> {
    // A streamed pack's bytes are in its file: its buffer is bounded by makeRoom, not by this count.
    if (!pack.streamed) for (const { record } of items) this.#pendingBytes += record.length;
    this.#pendingHighWater = Math.max(this.#pendingHighWater, this.#pendingBytes);
    if (pack.size >= this.#packSize) await this.#finishPack(type, pack);
    while (this.#pendingBytes > this.#packSize * MAX_PENDING_PACKS && this.#uploads.size > 0) await Promise.race(this.#uploads);
    this.#throwUploadError();
  }

  /**
   * Returns the tree's id once it is hashed: it is sealed (gzip and encryption, on the
   * pool) in the background with the trees saved next to it (TREE_BATCH_TREES), as a
   * pending blob, so the walk goes on meanwhile. Sealed on the walk's thread, trees were
   * a tenth of an incremental backup's. A sealing that fails fails the next save, or the
   * flush: no snapshot is written without its trees.
   */
  async saveTree(nodes: TreeNode[], storedTexts?: ReadonlyMap<TreeNode, string>): Promise<string> {
    this.#throwUploadError();
    const data = serializeTree(nodes, storedTexts);
    const id = sha256Hex(data);
    if (this.#has(id)) return id;
    this.#pending.add(id);
    this.#treeBatch.push({ id, data });
    this.#treeBatchBytes += data.length;
    if (this.#treeBatch.length >= TREE_BATCH_TREES || this.#treeBatchBytes >= TREE_BATCH_BYTES) await this.#sealTreeBatch();
    return id;
  }

  /** Sends the trees saved so far to be sealed, once a sealing slot is free. */
  async #sealTreeBatch(): Promise<void> {
    const batch = this.#treeBatch;
    if (batch.length === 0) return;
    this.#treeBatch = [];
    this.#treeBatchBytes = 0;
    // Tracked from here, not once it has a slot: a flush must wait for a batch still waiting for one.
    const slot = this.#treeSealSlots.acquire();
    const data = batch.map((t) => t.data);
    const sealing = slot
      .then(() =>
        this.#seal(
          'tree',
          batch.map((t) => t.id),
          data,
          (into) => encodeRecords(data, this.#key, this.#compressionFor('tree'), into),
        ),
      )
      .then(
        () => undefined,
        (err: unknown) => {
          this.#uploadError ??= err;
        },
      );
    this.#treeSealings.add(sealing);
    void sealing.finally(() => {
      this.#treeSealings.delete(sealing);
      this.#treeSealSlots.release();
    });
    await slot;
  }

  /** Every tree saved so far, those saved while this waits too, is in a pack, or its sealing failed (#uploadError). */
  async treesSealed(): Promise<void> {
    while (this.#treeBatch.length > 0 || this.#treeSealings.size > 0) {
      await this.#sealTreeBatch();
      await Promise.all([...this.#treeSealings]);
    }
  }

  /**
   * No tree is being sealed any more, and those not yet sent never will be: for a writer whose
   * open packs are dropped (a failed run, or a close without a flush), that would only waste the work.
   */
  async stopSealingTrees(): Promise<void> {
    do {
      for (const { id } of this.#treeBatch) this.#pending.delete(id);
      this.#treeBatch = [];
      this.#treeBatchBytes = 0;
      await Promise.all([...this.#treeSealings]);
    } while (this.#treeBatch.length > 0 || this.#treeSealings.size > 0);
  }

  /** Finishes open packs, waits for every upload, then writes one index file for them. */
  async flush(): Promise<FlushResult> {
    await this.treesSealed();
    for (const [type, pack] of [...this.#open]) await this.#finishPack(type, pack);
    while (this.#uploads.size > 0) await Promise.allSettled([...this.#uploads]);
    this.#throwUploadError();
    await this.#indexNewPacks();
    const result = { ...this.#indexedSinceFlush };
    Object.assign(this.#indexedSinceFlush, { packs: 0, blobs: 0, storedBytes: 0 });
    return result;
  }

  /** One index file for the packs uploaded since the last one. */
  async #indexNewPacks(): Promise<void> {
    const encoder = this.#newIndex;
    this.#newIndex = undefined;
    if (!encoder) return;
    const named = this.#unindexedPacks;
    this.#unindexedPacks = [];
    try {
      await this.#putIndexFile(await encoder.finish());
    } catch (err) {
      // No index names them: they stay the failed run's to index again or delete (settleAfterFailure).
      this.#unindexedPacks = [...named, ...this.#unindexedPacks];
      throw err;
    }
    const { packs, blobs, storedBytes } = encoder.named;
    this.#indexedSinceFlush.packs += packs;
    this.#indexedSinceFlush.blobs += blobs;
    this.#indexedSinceFlush.storedBytes += storedBytes;
  }

  /** Writes one index file naming `packs`; returns its id. */
  async writeIndexFile(packs: IndexedPack[]): Promise<string> {
    return this.#putIndexFile(encodeMetadata({ version: 1, packs } satisfies IndexFile, this.#format >= 2));
  }

  /** `plain`: an index file's bytes before sealing. */
  async #putIndexFile(plain: Buffer): Promise<string> {
    await this.#created();
    const stored = this.#envelope.seal(plain);
    const id = sha256Hex(stored);
    await this.#adapter.put(`index/${id}`, stored);
    this.writtenIndexFiles.push(id);
    return id;
  }

  async #finishPack(type: BlobType, pack: PackBuilder): Promise<void> {
    // A sealing in place may still be writing its records into the tail.
    while (!pack.tailFree) await pack.tailFreed();
    // Finished already (it filled up while we waited).
    if (this.#open.get(type) !== pack) return;
    this.#open.delete(type);
    // Opened for a sealing that failed: nothing to store.
    if (pack.count === 0) {
      await pack.discard();
      return;
    }
    // Counted among the uploads at once, before any wait: from here on flush waits for the
    // pack and saveSnapshot sees it; the slots keep the puts at uploadConcurrency.
    const upload = this.#uploadPack(pack).finally(() => {
      this.#uploads.delete(upload);
      if (!pack.streamed) this.#pendingBytes -= pack.size;
    });
    this.#uploads.add(upload);
    while (this.#uploads.size > this.#uploadConcurrency) await Promise.race(this.#uploads);
  }

  async #uploadPack(pack: PackBuilder): Promise<void> {
    await this.#uploadSlots.acquire();
    try {
      const { id, size, store } = await this.#finish(pack);
      const key = packKey(id);
      await this.#created();
      await store(key);
      // Trust no upload blindly (DESIGN.md): the stored size must be what was sent.
      const info = await this.#adapter.stat(key);
      if (!info || info.size !== size) throw new IntegrityError(`destination ${this.#adapter.name}: pack ${id.slice(0, 12)} stored as ${info?.size ?? 'nothing'} bytes, sent ${size}`);
      pack.release();
      this.#unindexedPacks.push({ key, size });
      for (const e of pack.entries) {
        this.#index.add({ id: e.id, packId: id, type: e.type, offset: e.offset, length: e.length, rawLength: e.rawLength });
        this.#pending.delete(e.id);
      }
      const index = (this.#newIndex ??= new IndexFileEncoder(this.#format >= 2));
      index.add({ id, size, blobs: pack.count }, pack.blobsJson);
      // Like restic, an index file every so many blobs: held until the end, the entries of a
      // million new files would take hundreds of MiB (and a crash would leave them unindexed).
      if (index.named.blobs >= INDEX_EVERY_BLOBS) await this.#indexNewPacks();
    } catch (err) {
      for (const e of pack.entries) this.#pending.delete(e.id);
      this.#uploadError ??= err;
      // A streamed pack's file is removed; a buffer a put may still read is left to the garbage collector.
      if (pack.streamed) await pack.discard();
    } finally {
      this.#uploadSlots.release();
    }
  }

  /** The finished pack's id and size, and how it is stored under its key: a streamed one's file is named, a pack held whole is put. */
  async #finish(pack: PackBuilder): Promise<{ id: string; size: number; store: (key: string) => Promise<void> }> {
    const sealHeader = (plain: Buffer) => this.#envelope.seal(plain);
    if (pack.streamed) {
      const { id, size } = await pack.finishStreamed(sealHeader, this.#format >= 2);
      return { id, size, store: (key) => pack.commit(key) };
    }
    const { id, bytes } = await pack.finish(sealHeader, this.#format >= 2);
    return { id, size: bytes.length, store: (key) => this.#adapter.put(key, bytes, { size: bytes.length }) };
  }

  /**
   * After a write failed (a full disk, a store that went away): the packs this session
   * stored are named in an index file, so the next run reuses them instead of sending
   * them again; when not even that can be written, they are deleted, since nothing can
   * ever reference them. Packs still being filled are dropped. Never throws: it reports
   * what the failed run leaves behind.
   */
  async settleAfterFailure(): Promise<FailedWritesLeft> {
    // A sealing still under way would put its trees into a pack released here.
    await this.stopSealingTrees();
    // Their blobs are stored nowhere: a later source of the same run must store them again, not take them as pending.
    await this.discardOpenPacks();
    while (this.#uploads.size > 0) await Promise.allSettled([...this.#uploads]);
    const stored = this.#unindexedPacks;
    const bytes = (packs: { size: number }[]) => packs.reduce((n, p) => n + p.size, 0);
    try {
      await this.#indexNewPacks();
      return { indexed: { packs: stored.length, bytes: bytes(stored) }, deleted: { packs: 0, bytes: 0 }, left: { packs: 0, bytes: 0 } };
    } catch {
      const deleted: { size: number }[] = [];
      const left: { size: number }[] = [];
      for (const pack of this.#unindexedPacks) {
        await this.#adapter.delete(pack.key).then(
          () => deleted.push(pack),
          () => left.push(pack),
        );
      }
      this.#unindexedPacks = [];
      return { indexed: { packs: 0, bytes: 0 }, deleted: { packs: deleted.length, bytes: bytes(deleted) }, left: { packs: left.length, bytes: bytes(left) } };
    }
  }

  /**
   * Packs still being filled are dropped, a streamed one's file removed: for a failed run, and
   * for a close without a flush (an interrupted prune), which would leave that file for good.
   * Their blobs are stored nowhere: a later save must store them again, not take them as pending.
   */
  async discardOpenPacks(): Promise<void> {
    const open = [...this.#open.values()];
    this.#open.clear();
    for (const pack of open) {
      for (const e of pack.entries) this.#pending.delete(e.id);
      await pack.discard();
    }
  }

  /** No pack is opened from now on, and those open are discarded: for a repository that closes, flushed or not. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.discardOpenPacks();
  }

  #throwUploadError(): void {
    if (this.#uploadError !== undefined) {
      const err = this.#uploadError;
      if (err instanceof BkdrError) throw err;
      throw new BkdrError(`destination ${this.#adapter.name}: upload failed: ${(err as Error).message ?? String(err)}`, 1, { cause: err });
    }
  }
}
