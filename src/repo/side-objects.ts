import { type ObjectInfo, ObjectNotFoundError, readAll, type StorageAdapter } from '../storage/adapter.js';
import { BACKUP_IDLE_DISCARD_MS, BufferPool } from './buffer-pool.js';
import { type CompressionSettings, type CompressionTag, compressBlob, decompressBlob, lz4Bound } from './compression.js';
import type { Envelope } from './envelope.js';

/** Objects from this size on compress into a kept buffer; smaller ones compress on the calling thread anyway. */
const REUSED_FROM = 1024 * 1024;
/** Room for the outputs of four WAL files (the asynchronous pusher's files in flight), at their size class of 32 MiB. */
const REUSED_COMPRESSED_BYTES = 4 * BufferPool.sizeClassOf(lz4Bound(16 * 1024 * 1024));

/**
 * Objects kept beside the blob store, under a prefix of their own (a layer above keeps
 * files there that it stores whole, one object each): sealed in the repository's
 * envelope, neither indexed, nor snapshotted, nor touched by prune. The repository
 * only seals and opens them; what they hold is their owner's format.
 */
export class SideObjects {
  /** Ends with '/'; an object's key is the prefix and its name. */
  readonly prefix: string;
  readonly #adapter: StorageAdapter;
  readonly #envelope: Envelope;
  readonly #compression: CompressionSettings;
  /** Waits until a repository being created is written. */
  readonly #created: () => Promise<void>;
  /** LZ4 outputs of putCompressed, handed from one object to the next. */
  readonly #compressed = new BufferPool(REUSED_COMPRESSED_BYTES, { discardIdleAfter: BACKUP_IDLE_DISCARD_MS });

  constructor(adapter: StorageAdapter, prefix: string, envelope: Envelope, compression: CompressionSettings, created: () => Promise<void>) {
    this.#adapter = adapter;
    this.prefix = prefix;
    this.#envelope = envelope;
    this.#compression = compression;
    this.#created = created;
  }

  /** Seals `plain` and stores it under `name`, replacing what was there. */
  async put(name: string, plain: Buffer): Promise<void> {
    await this.#created();
    await this.#adapter.put(this.prefix + name, await this.#envelope.sealLarge(plain));
  }

  /**
   * The opened content of `name`; undefined when there is none. `what` names it in the
   * error when it fails authentication (the destination is added).
   */
  async get(name: string, what = this.prefix + name): Promise<Buffer | undefined> {
    let stored: Buffer;
    try {
      stored = await readAll(await this.#adapter.get(this.prefix + name));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
    return this.#envelope.openLarge(stored, what);
  }

  /** What the destination says of `name` (its stored size, not its content's); undefined when there is none. */
  async stat(name: string): Promise<ObjectInfo | undefined> {
    await this.#created();
    return this.#adapter.stat(this.prefix + name);
  }

  async delete(name: string): Promise<void> {
    await this.#adapter.delete(this.prefix + name);
  }

  /** Every object under the prefix, as listed (in no particular order), with its name. */
  async *list(): AsyncIterable<ObjectInfo & { name: string }> {
    for await (const obj of this.#adapter.list(this.prefix)) yield { ...obj, name: obj.key.slice(this.prefix.length) };
  }

  /**
   * Stores `data` compressed with the repository's compression (incompressible data is kept
   * raw) behind the header `header(tag)` makes, the tag saying how, sealed as one content.
   *
   * LZ4 compresses into a buffer kept for the next object: a fresh 16 MiB output per WAL
   * file was mapped and faulted in anew each time. The buffer is free again once the object
   * is sealed, as sealing copies it, so nothing a destination still reads (a put that timed
   * out, left to finish) is ever reused.
   */
  async putCompressed(name: string, data: Buffer, header: (tag: CompressionTag) => Buffer): Promise<void> {
    const lease = this.#compression.algorithm === 'lz4' && data.length >= REUSED_FROM ? this.#compressed.lease(lz4Bound(data.length)) : undefined;
    let sealed: Buffer;
    try {
      const { tag, payload } = await compressBlob(data, this.#compression, lease?.buffer);
      await this.#created();
      sealed = await this.#envelope.sealLarge(header(tag), payload);
    } finally {
      lease?.releases[0]!();
    }
    await this.#adapter.put(this.prefix + name, sealed);
  }

  decompress(tag: number, payload: Buffer): Promise<Buffer> {
    return decompressBlob(tag, payload);
  }
}
