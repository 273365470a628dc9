import { alignedBuffer, discardPages } from '../core/aligned-buffer.js';
import { IntegrityError } from '../core/errors.js';
import type { StreamedObject } from '../storage/adapter.js';
import { blobId } from './blob-codec.js';
import type { BlobType } from './blob-index.js';
import type { BufferPool } from './buffer-pool.js';
import { decodeMetadata, encodeMetadataJson } from './metadata-codec.js';

/** Trailer magic: a pack ends with its header, the header's length, then these 8 bytes. */
export const PACK_MAGIC = Buffer.from('BKDRPK01');

/** The block direct I/O writes whole: a streamed pack's appends leave a shorter rest for the next one. */
const DIRECT_BLOCK = 4096;

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
 * Bytes of a streamed pack's buffer after which they are written to its file (its whole
 * blocks, in the background): about what a streamed pack holds beyond the records being
 * sealed into it. A large file's backup peaked at 124–125 MiB with 1 MiB, 127–132 MiB
 * with 2 MiB, at the same speed (three runs each).
 */
const STREAM_AFTER_BYTES = 1024 * 1024;

/**
 * The front of a streamed pack's buffer that records are sealed and copied into while its
 * file takes what came before: a record that would end past it waits for that room, or is
 * sealed in a record buffer, unless the buffer is empty. Pages touched beyond it (by a
 * record larger than it) go back to the kernel when the buffer does to its pool. Bounded
 * only by the buffer (an 8 MiB pack and room for the largest chunk), each of the two pack
 * buffers of a large file's backup held 8 MiB, the most any pack had needed; with this,
 * 4 MiB. The 4 GiB file's peak RSS went from 114.5 to 110.5 MiB (medians of five
 * alternating runs), as fast.
 */
const STREAMED_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * Collects blob records in one growing buffer until the pack is big enough to upload.
 * Records are sealed straight into its tail when they can (reserveTail), else copied in
 * as they come, so nothing is left to concatenate when the pack is finished; the
 * buffer's unused tail is never touched, so it costs address space, not memory.
 * From a BufferPool, the buffer is one an earlier pack used: a fresh one (mmap'd, 24 MiB
 * when packs were 16 MiB) faulted in every page as records were copied in, 0.5 s of a backup's main thread.
 *
 * With a `sink` (a local disk's StreamedObject), the pack is streamed: once
 * STREAM_AFTER_BYTES are in the buffer, they are appended to the pack's file while more
 * records come, and what was written is dropped from the buffer's front when no sealing
 * holds its tail. The buffer then holds the records being sealed and about a megabyte,
 * within its first STREAMED_WINDOW_BYTES, not the pack, and goes back to the pool as
 * soon as the pack is finished. Held whole until stored, three 8 MiB packs at a time
 * (one filling, two being written) were 30 MiB of a large file's backup (136–138 MiB
 * peak RSS, 124–125 streamed). Offsets in `entries` and `size` are the pack's, not the
 * buffer's.
 */
export class PackBuilder {
  #buffer: Buffer;
  #release: (() => void) | undefined;
  readonly entries: PackHeaderEntry[] = [];
  #size = 0;
  /** The tail handed out by reserveTail, until its records are committed or it is given up. */
  #reserved: { end: number; done: Promise<void>; resolve: () => void } | undefined;
  #blobsJson: string | undefined;
  readonly #sink: StreamedObject | undefined;
  readonly #buffers: BufferPool | undefined;
  /** Streamed: the pack offset of the buffer's first byte (what was appended and dropped before it). */
  #base = 0;
  /** Streamed: the append under way, which reads the buffer's front. */
  #appending: Promise<void> | undefined;
  /** Streamed: bytes at the buffer's front the last append wrote, to drop once no sealing holds the tail. */
  #appended = 0;
  /** Streamed: why an append failed; the pack cannot be stored. */
  #failure: { error: unknown } | undefined;
  /** Streamed: finishStreamed began; no room is made, no append started, from then on. */
  #finished = false;
  /** Streamed: how far into the buffer records were sealed or copied (their pages are resident). */
  #touched = 0;

  constructor(expectedSize = 1024 * 1024, buffers?: BufferPool, sink?: StreamedObject) {
    this.#buffers = buffers;
    const lease = buffers?.lease(expectedSize);
    this.#buffer = lease?.buffer ?? Buffer.allocUnsafeSlow(expectedSize);
    this.#release = lease?.releases[0];
    this.#sink = sink;
  }

  /** Gives the buffer back to the pool; the pack's bytes must not be used after. Streamed, only once no append is under way (discard). */
  release(): void {
    // Beyond the window: the pages of a rare large record, not to be kept resident for the packs after.
    if (this.#sink && this.#release && this.#touched > STREAMED_WINDOW_BYTES) discardPages(this.#buffer.subarray(STREAMED_WINDOW_BYTES, this.#touched));
    this.#touched = 0;
    this.#release?.();
    this.#release = undefined;
  }

  /** A pack that will not be stored: its buffer back to the pool once no append reads it, its file removed. */
  async discard(): Promise<void> {
    // No append starts after this one (#stream stops at a failure).
    this.#failure ??= { error: new Error('pack discarded') };
    while (this.#appending) await this.#appending;
    this.release();
    await this.#sink?.abort();
  }

  get streamed(): boolean {
    return this.#sink !== undefined;
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

  /** Whether add can take a record of `length` bytes now: streamed, within STREAMED_WINDOW_BYTES, or into an empty buffer; one that is not streamed grows, so always. */
  hasRoom(length: number): boolean {
    return !this.#sink || (this.#held + length <= this.#buffer.length && this.#inWindow(length));
  }

  /** Streamed: `length` more bytes end within STREAMED_WINDOW_BYTES, or the buffer is empty (it holds less than a block) and takes them wherever they end. */
  #inWindow(length: number): boolean {
    return this.#held + length <= STREAMED_WINDOW_BYTES || this.#held < DIRECT_BLOCK;
  }

  /**
   * Streamed: waits until the buffer has room for `length` more bytes, a sealing holds
   * the tail (the caller waits for that, then asks again) or the pack is finished (the
   * caller takes the next one): the appends under way finish
   * and what they wrote is dropped, then the rest is appended; a record larger than the
   * buffer grows it. Rejects when an append failed.
   */
  async makeRoom(length: number): Promise<void> {
    // A waiter that resumes after the pack was finished: the caller takes the next open pack.
    while (!this.hasRoom(length) && this.tailFree && !this.#finished) {
      if (this.#failure) throw this.#failure.error;
      if (this.#appending) await this.#appending;
      else if (this.#appended > 0) this.#dropAppended();
      else if (this.#held >= DIRECT_BLOCK) this.#appendHeld();
      else this.#grow(length);
    }
    if (this.#failure) throw this.#failure.error;
  }

  add(item: PackRecord): void {
    if (this.#reserved) throw new Error('PackBuilder.add while its tail is reserved');
    if (this.#sink && !this.hasRoom(item.record.length)) throw new Error('PackBuilder.add without room (makeRoom)');
    this.#reserve(item.record.length);
    this.#touched = Math.max(this.#touched, this.#held + item.record.length);
    item.record.copy(this.#buffer, this.#held);
    this.#append(item);
    this.#stream();
  }

  /**
   * The pack's free tail, `bound` bytes of it, for records to be sealed in place: no
   * record buffer, no copy. Undefined when another sealing holds the tail (the records'
   * lengths are known only once sealed, and the next ones must follow without a gap) or
   * the buffer has no such room (streamed: within STREAMED_WINDOW_BYTES, unless it is
   * empty). commitTail or cancelTail must follow.
   */
  reserveTail(bound: number): Buffer | undefined {
    if (this.#reserved || this.#failure || this.#held + bound > this.#buffer.length) return undefined;
    if (this.#sink && !this.#inWindow(bound)) return undefined;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.#reserved = { end: this.#held + bound, done, resolve };
    this.#touched = Math.max(this.#touched, this.#held + bound);
    return this.#buffer.subarray(this.#held, this.#held + bound);
  }

  /** Appends the records sealed into the reserved tail, in order; any made elsewhere is copied in. */
  commitTail(items: PackRecord[]): void {
    if (!this.#reserved) throw new Error('PackBuilder.commitTail without a reserved tail');
    for (const item of items) {
      const { record } = item;
      // A record longer than its bound would overwrite what follows the tail, or be cut short.
      if (this.#held + record.length > this.#reserved.end) throw new Error('PackBuilder.commitTail: records longer than the reserved tail');
      if (record.buffer !== this.#buffer.buffer || record.byteOffset !== this.#buffer.byteOffset + this.#held) record.copy(this.#buffer, this.#held);
      this.#append(item);
    }
    this.cancelTail();
  }

  cancelTail(): void {
    const reserved = this.#reserved;
    this.#reserved = undefined;
    this.#stream();
    reserved?.resolve();
  }

  /** Bytes in the buffer: the pack's, from #base on. */
  get #held(): number {
    return this.#size - this.#base;
  }

  #append({ type, id, record, rawLength, compression }: PackRecord): void {
    this.entries.push({ type, id, offset: this.#size, length: record.length, rawLength, compression });
    this.#size += record.length;
  }

  /** The pack's header, its length and the trailer magic, after the records. */
  async #trailer(encodeHeader: (plain: Buffer) => Buffer, gzip: boolean): Promise<Buffer> {
    if (this.#reserved) throw new Error('PackBuilder.finish while its tail is reserved');
    this.#blobsJson = JSON.stringify(this.entries);
    const header = encodeHeader(await encodeMetadataJson(`{"version":1,"blobs":${this.#blobsJson}}`, gzip));
    const trailer = Buffer.allocUnsafe(header.length + 4 + PACK_MAGIC.length);
    header.copy(trailer, 0);
    trailer.writeUInt32LE(header.length, header.length);
    PACK_MAGIC.copy(trailer, header.length + 4);
    return trailer;
  }

  /** The pack's bytes and id; `encodeHeader` seals the header in encrypted repositories; `gzip` for format 2. */
  async finish(encodeHeader: (plain: Buffer) => Buffer, gzip: boolean): Promise<{ id: string; bytes: Buffer }> {
    if (this.#sink) throw new Error('PackBuilder.finish of a streamed pack (finishStreamed)');
    const trailer = await this.#trailer(encodeHeader, gzip);
    this.#reserve(trailer.length);
    const end = this.#size + trailer.copy(this.#buffer, this.#size);
    const bytes = this.#buffer.subarray(0, end);
    return { id: await blobId(bytes), bytes };
  }

  /** Streamed: writes the rest and the trailer to the pack's file and makes it durable; its id (the SHA-256 of its bytes) and size. */
  async finishStreamed(encodeHeader: (plain: Buffer) => Buffer, gzip: boolean): Promise<{ id: string; size: number }> {
    const sink = this.#sink;
    if (!sink) throw new Error('PackBuilder.finishStreamed of a pack held in memory (finish)');
    this.#finished = true;
    const trailer = await this.#trailer(encodeHeader, gzip);
    // The last part goes after every append: none may still be writing the buffer's front.
    // The held bytes' whole blocks are written from this buffer first, so that the last part
    // is less than a block and the trailer: copied out with up to a megabyte more, the last
    // parts of the packs being stored took 13 MiB more of a large file's backup.
    for (let appended = false; ; appended = true) {
      while (this.#appending) await this.#appending;
      if (this.#failure) throw this.#failure.error;
      this.#dropAppended();
      if (this.#held < DIRECT_BLOCK || appended) break;
      this.#appendHeld();
    }
    // The rest and the trailer go from a buffer of their own, and the pack's goes back at once,
    // to the pack filling next: kept through the write, the sync and the rename, the buffers of
    // the packs being stored were as many as before streaming, their fronts as resident.
    const held = this.#held;
    const lease = this.#buffers?.lease(held + trailer.length);
    const last = lease?.buffer ?? Buffer.allocUnsafeSlow(held + trailer.length);
    this.#buffer.copy(last, 0, 0, held);
    trailer.copy(last, held);
    this.release();
    try {
      const { sha256, size } = await sink.finish(last);
      // What the file holds must be every byte of the pack, once: a lost or repeated part would be a pack whose header lies.
      if (size !== this.#size + trailer.length) throw new Error(`streamed pack holds ${size} bytes, not ${this.#size + trailer.length}`);
      return { id: sha256, size };
    } finally {
      lease?.releases[0]!();
    }
  }

  /** Streamed and finished: names the pack's file `key` (StreamedObject.commit). */
  async commit(key: string): Promise<void> {
    if (!this.#sink) throw new Error('PackBuilder.commit of a pack held in memory');
    await this.#sink.commit(key);
  }

  /** Streamed: once STREAM_AFTER_BYTES are held and no append is under way, the held bytes go to the file. */
  #stream(): void {
    if (!this.#sink || this.#reserved || this.#appending || this.#failure || this.#finished) return;
    this.#dropAppended();
    // A tree pack's buffer is smaller than that: half of it.
    if (this.#held >= Math.min(STREAM_AFTER_BYTES, this.#buffer.length / 2)) this.#appendHeld();
  }

  /** Streamed: appends the held bytes in the background (all, or all but a partial block); the buffer's front is dropped when it ends. */
  #appendHeld(): void {
    const held = this.#held;
    const appending = this.#sink!.append(this.#buffer.subarray(0, held)).then(
      (written) => {
        // A whole block or more that wrote nothing would have makeRoom ask again forever.
        if (written <= 0 && held >= DIRECT_BLOCK) this.#failure ??= { error: new Error(`a pack's file took none of ${held} bytes`) };
        this.#appended = written;
      },
      (error: unknown) => {
        this.#failure ??= { error };
      },
    );
    this.#appending = appending.finally(() => {
      this.#appending = undefined;
      this.#stream();
    });
  }

  /** Streamed: drops what the last append wrote from the buffer's front; never while a sealing writes into the tail (it would move under it) or an append reads it. */
  #dropAppended(): void {
    if (this.#appended === 0 || this.#reserved || this.#appending) return;
    this.#buffer.copy(this.#buffer, 0, this.#appended, this.#held);
    this.#base += this.#appended;
    this.#appended = 0;
  }

  /** Room for `more` bytes after the held ones: a bigger buffer, the held bytes copied over. Streamed, only when no append reads the old one. */
  #reserve(more: number): void {
    if (this.#held + more <= this.#buffer.length) return;
    this.#grow(more);
  }

  #grow(more: number): void {
    const size = Math.max(this.#held + more, this.#buffer.length * 2);
    // Aligned when streamed: the file is written with O_DIRECT from this buffer's front.
    const grown = this.#sink ? alignedBuffer(size) : Buffer.allocUnsafeSlow(size);
    this.#buffer.copy(grown, 0, 0, this.#held);
    this.release();
    this.#buffer = grown;
    this.#touched = this.#held;
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
