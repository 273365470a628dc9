import { IntegrityError } from '../core/errors.js';
import { blobId } from './blob-codec.js';
import type { BlobType } from './blob-index.js';
import type { BufferPool } from './buffer-pool.js';
import { decodeMetadata, encodeMetadataJson } from './metadata-codec.js';

/** Trailer magic: a pack ends with its header, the header's length, then these 8 bytes. */
export const PACK_MAGIC = Buffer.from('BKDRPK01');

/** Where a pack is stored: named for the hash of its bytes, under a folder for its first two hex digits. */
export const packKey = (id: string) => `data/${id.slice(0, 2)}/${id}`;

export interface PackHeaderEntry {
  type: BlobType;
  id: string;
  offset: number;
  length: number;
  rawLength: number;
  compression: number;
}

/** A sealed record and what the pack header says of it. */
export interface PackRecord {
  type: BlobType;
  id: string;
  record: Buffer;
  rawLength: number;
  compression: number;
}

/**
 * Collects blob records in one growing buffer until the pack is big enough to upload.
 * Records are sealed straight into its tail when they can (reserveTail), else copied in
 * as they come, so nothing is left to concatenate when the pack is finished; the
 * buffer's unused tail is never touched, so it costs address space, not memory.
 * From a BufferPool, the buffer is one an earlier pack used: a fresh one (mmap'd, 24 MiB
 * when packs were 16 MiB) faulted in every page as records were copied in, 0.5 s of a backup's main thread.
 */
export class PackBuilder {
  #buffer: Buffer;
  #release: (() => void) | undefined;
  readonly entries: PackHeaderEntry[] = [];
  #size = 0;
  /** The tail handed out by reserveTail, until its records are committed or it is given up. */
  #reserved: { end: number; done: Promise<void>; resolve: () => void } | undefined;
  #blobsJson: string | undefined;

  constructor(expectedSize = 1024 * 1024, buffers?: BufferPool) {
    const lease = buffers?.lease(expectedSize);
    this.#buffer = lease?.buffer ?? Buffer.allocUnsafeSlow(expectedSize);
    this.#release = lease?.releases[0];
  }

  /** Gives the buffer back to the pool; the pack's bytes must not be used after. */
  release(): void {
    this.#release?.();
    this.#release = undefined;
  }

  get size(): number {
    return this.#size;
  }

  get count(): number {
    return this.entries.length;
  }

  /** The JSON of the blob entries, once finished: the header's, and the index file's entry for the pack. */
  get blobsJson(): string {
    if (this.#blobsJson === undefined) throw new Error('PackBuilder.blobsJson before finish');
    return this.#blobsJson;
  }

  get tailFree(): boolean {
    return this.#reserved === undefined;
  }

  /** Resolves when the tail reserved now is committed or given up (another sealing may reserve it at once: check tailFree). */
  tailFreed(): Promise<void> {
    return this.#reserved?.done ?? Promise.resolve();
  }

  add(item: PackRecord): void {
    if (this.#reserved) throw new Error('PackBuilder.add while its tail is reserved');
    this.#reserve(item.record.length);
    item.record.copy(this.#buffer, this.#size);
    this.#append(item);
  }

  /**
   * The pack's free tail, `bound` bytes of it, for records to be sealed in place: no
   * record buffer, no copy. Undefined when another sealing holds the tail (the records'
   * lengths are known only once sealed, and the next ones must follow without a gap) or
   * the buffer has no such room. commitTail or cancelTail must follow.
   */
  reserveTail(bound: number): Buffer | undefined {
    if (this.#reserved || this.#size + bound > this.#buffer.length) return undefined;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.#reserved = { end: this.#size + bound, done, resolve };
    return this.#buffer.subarray(this.#size, this.#size + bound);
  }

  /** Appends the records sealed into the reserved tail, in order; any made elsewhere is copied in. */
  commitTail(items: PackRecord[]): void {
    if (!this.#reserved) throw new Error('PackBuilder.commitTail without a reserved tail');
    for (const item of items) {
      const { record } = item;
      // A record longer than its bound would overwrite what follows the tail, or be cut short.
      if (this.#size + record.length > this.#reserved.end) throw new Error('PackBuilder.commitTail: records longer than the reserved tail');
      if (record.buffer !== this.#buffer.buffer || record.byteOffset !== this.#buffer.byteOffset + this.#size) record.copy(this.#buffer, this.#size);
      this.#append(item);
    }
    this.cancelTail();
  }

  cancelTail(): void {
    const reserved = this.#reserved;
    this.#reserved = undefined;
    reserved?.resolve();
  }

  #append({ type, id, record, rawLength, compression }: PackRecord): void {
    this.entries.push({ type, id, offset: this.#size, length: record.length, rawLength, compression });
    this.#size += record.length;
  }

  /** The pack's bytes and id; `encodeHeader` seals the header in encrypted repositories; `gzip` for format 2. */
  async finish(encodeHeader: (plain: Buffer) => Buffer, gzip: boolean): Promise<{ id: string; bytes: Buffer }> {
    if (this.#reserved) throw new Error('PackBuilder.finish while its tail is reserved');
    this.#blobsJson = JSON.stringify(this.entries);
    const header = encodeHeader(await encodeMetadataJson(`{"version":1,"blobs":${this.#blobsJson}}`, gzip));
    this.#reserve(header.length + 4 + PACK_MAGIC.length);
    let end = this.#size + header.copy(this.#buffer, this.#size);
    end = this.#buffer.writeUInt32LE(header.length, end);
    end += PACK_MAGIC.copy(this.#buffer, end);
    const bytes = this.#buffer.subarray(0, end);
    return { id: await blobId(bytes), bytes };
  }

  #reserve(more: number): void {
    if (this.#size + more <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.#size + more, this.#buffer.length * 2));
    this.#buffer.copy(grown, 0, 0, this.#size);
    this.#buffer = grown;
    this.release();
  }
}

/** Reads a pack's header from its tail, so an index can be rebuilt from packs alone. */
export function parsePackHeader(tail: Buffer, packSize: number, decodeHeader: (sealed: Buffer) => Buffer, packId: string): PackHeaderEntry[] {
  if (tail.length < 12 || !tail.subarray(tail.length - 8).equals(PACK_MAGIC)) throw new IntegrityError(`pack ${packId.slice(0, 12)} has no valid trailer`);
  const headerLength = tail.readUInt32LE(tail.length - 12);
  if (headerLength + 12 > tail.length || headerLength + 12 > packSize) throw new IntegrityError(`pack ${packId.slice(0, 12)} has a bad header length`);
  const header = decodeHeader(tail.subarray(tail.length - 12 - headerLength, tail.length - 12));
  const parsed = decodeMetadata(header, `pack ${packId.slice(0, 12)}'s header`) as { version: number; blobs: PackHeaderEntry[] };
  if (parsed.version !== 1) throw new IntegrityError(`pack ${packId.slice(0, 12)} has header version ${parsed.version}`);
  return parsed.blobs;
}
