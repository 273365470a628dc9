import { IntegrityError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import { Slots } from '../core/slots.js';
import { ObjectNotFoundError, readAll, type StorageAdapter } from '../storage/adapter.js';
import type { BlobIndex, BlobLocation } from './blob-index.js';
import { decodeRecord, decodeRecords, RecordDecodeError } from './blob-codec.js';
import type { BufferPool } from './buffer-pool.js';
import type { Envelope } from './envelope.js';
import { LocatedBlobs, type PackBlobs } from './pack-blobs.js';
import { packKey, type PackHeaderEntry, parsePackHeader } from './pack.js';
import { deserializeTree } from './tree.js';
import type { TreeNode } from './tree-node.js';
import type { WholePacks } from './whole-packs.js';

/**
 * Records below this size, stored and decoded, are opened in batches of up to BATCH_RECORDS
 * or BATCH_BYTES decoded when a pack is read whole.
 */
const BATCH_RECORD_BELOW = 256 * 1024;
const BATCH_RECORDS = 128;
/**
 * A batch is decoded into one buffer, which is reused only once every blob in it has been
 * written: in a restore of small files, each worker held its batch while its files waited
 * to be created together. Counted in stored bytes (4 MiB), a batch of text decoded to
 * 8-16 MiB. Counted decoded (1 MiB), with records that decode to 256 KiB or more taken
 * one by one as large ones, restores peaked lower (medians of five alternating runs, into
 * tmpfs): the bench's real tree 276 → 211 MiB, its mixed set 183 → 159 MiB, a 4 GiB file
 * 136 → 133 MiB, each as fast as before.
 */
const BATCH_BYTES = 1024 * 1024;
/** What readPack reads with one request at most, unless a single blob is larger. */
const READ_SPAN_BYTES = 4 * 1024 * 1024;
/**
 * A local disk's span: a read there costs no round trip, so smaller spans cost nothing,
 * and hold less. At 2 MiB (4 before), a restore of the bench's real tree made 37 MiB of
 * pool buffers instead of 46, and a 4 GiB file's restore peaked 10 MiB lower, as fast.
 * At 1 MiB, peaks fell again (medians of five or seven alternating runs): the 4 GiB file
 * 111.3 -> 104.6 MiB, the real tree 147.9 -> 145.1, the mixed set 110.1 -> 108.6, each as
 * fast or faster. Remote destinations keep READ_SPAN_BYTES: more requests would be more
 * latencies.
 */
const LOCAL_READ_SPAN_BYTES = 1024 * 1024;
/**
 * Decoded bytes of a span's large records in flight at once (at least one record). Each
 * restore worker has its own span, so the cores stay busy with one record each. Decoding
 * all of a span's large records at once held them all decoded per worker (4 MiB stored,
 * several times that once decompressed); this bound lowered a restore's peak RSS by
 * 17–21 MiB (the bench's mixed set) and 12 MiB (a 1 GiB file), no slower.
 */
const LARGE_DECODE_AHEAD_BYTES = 1024 * 1024;
/** Packs loadTrees reads at once. */
const TREE_PACKS_IN_FLIGHT = 4;

const noRelease = () => undefined;

/**
 * A blob read from a pack, by its position in the PackBlobs read. `release`: called once the
 * caller is done with `data` (with a BufferPool, its memory is then reused). The read waits
 * for what it returns.
 */
export type OnPackBlob = (k: number, data: Buffer, release: () => void) => void | Promise<void>;

/** What opening one record needs to know of its blob. */
type RecordOf = Pick<BlobLocation, 'id' | 'packId' | 'length' | 'rawLength'>;

export interface PackCheck {
  packId: string;
  ok: boolean;
  /** Why the pack as a whole is bad (missing, size, hash), if it is. */
  problem?: string;
  /** Blobs in it that cannot be read back intact. */
  damagedBlobs: string[];
}

/**
 * Reading blobs back out of packs, where the index places them: one at a time, a pack's
 * worth in spans (restores), trees in batches (walks), and whole packs for checks.
 * Every blob read is checked against its id.
 */
export class PackReader {
  readonly #adapter: StorageAdapter;
  readonly #envelope: Envelope;
  /** The master key (undefined: unencrypted), which opens blob records. */
  readonly #key: Buffer | undefined;
  readonly #index: BlobIndex;
  readonly #spanBytes: number;

  constructor(adapter: StorageAdapter, envelope: Envelope, index: BlobIndex) {
    this.#adapter = adapter;
    this.#spanBytes = adapter.kind === 'local' ? LOCAL_READ_SPAN_BYTES : READ_SPAN_BYTES;
    this.#envelope = envelope;
    this.#key = envelope.key;
    this.#index = index;
  }

  async loadBlob(id: string): Promise<Buffer> {
    const location = this.#index.get(id);
    if (!location) throw new IntegrityError(`blob ${id.slice(0, 12)} is not in the index of destination ${this.#adapter.name}`);
    const record = await readAll(await this.#adapter.get(packKey(location.packId), { offset: location.offset, length: location.length }));
    return this.#decodeRecord(record, location);
  }

  /**
   * The blobs of one pack, in pack order, from one ranged read per span. Small records are
   * opened in batches (one trip to the pool each), large ones one by one. `onBlob` gets each
   * by its position in `blobs`, and the read waits for what it returns. With `buffers`, reads
   * and decoded blobs use its buffers, and a blob's buffer is reused once released. With
   * `whole`, a pack it keeps is read from there.
   */
  async readPack(packId: string, blobs: PackBlobs, onBlob: OnPackBlob, buffers?: BufferPool, whole?: WholePacks): Promise<void> {
    // Spans of at most #spanBytes (or one larger blob), read one after the other: a
    // whole pack at once held 16 MiB per pack in flight (packs were 16 MiB then), and as much again in garbage.
    for (let first = 0; first < blobs.count;) {
      let last = first;
      while (last + 1 < blobs.count && blobs.offset(last + 1) + blobs.length(last + 1) - blobs.offset(first) <= this.#spanBytes) last++;
      await this.#readSpan(packId, blobs, first, last + 1, onBlob, buffers, whole);
      first = last + 1;
    }
  }

  /** Blobs `from` to `to` of a pack, read with one request. */
  async #readSpan(packId: string, blobs: PackBlobs, from: number, to: number, onBlob: OnPackBlob, buffers: BufferPool | undefined, whole: WholePacks | undefined): Promise<void> {
    const start = blobs.offset(from);
    // A loop, not Math.max(...): a pack of small files holds more blobs than a call has room for arguments.
    let end = start;
    for (let k = from; k < to; k++) end = Math.max(end, blobs.offset(k) + blobs.length(k));
    const held = whole?.bytesOf(packId);
    const span = held ? undefined : buffers?.lease(end - start);
    // A held pack shorter than the index says gives records cut short, found below as those of a short ranged read are.
    const bytes = held ? (await held).subarray(start, end) : await readAll(await this.#adapter.get(packKey(packId), { offset: start, length: end - start, into: span?.buffer }));
    const recordOf = (k: number) => bytes.subarray(blobs.offset(k) - start, blobs.offset(k) - start + blobs.length(k));
    let batch: number[] = [];
    let batchBytes = 0;
    // Blobs before a damaged one are still handed out, as when each is opened alone.
    const openBatch = async () => {
      const ks = batch;
      batch = [];
      batchBytes = 0;
      // A record cut short (the pack ends inside it) stops the batch there; with a damaged
      // index it need not be the last, so whole records after it are not handed out.
      const cut = ks.findIndex((k) => recordOf(k).length !== blobs.length(k));
      const whole = cut < 0 ? ks : ks.slice(0, cut);
      let total = 0;
      for (const k of whole) total += blobs.rawLength(k);
      const decodedInto = buffers?.lease(total, whole.length);
      const decoded = await decodeRecords(
        whole.map(recordOf),
        this.#key,
        decodedInto?.buffer ?? Buffer.allocUnsafe(total),
        whole.map((k) => blobs.rawLength(k)),
      );
      for (let i = 0; i < whole.length; i++) {
        const k = whole[i]!;
        const pending = onBlob(k, this.#checked(decoded[i]!, blobs.id(k), packId), decodedInto?.releases[i] ?? noRelease);
        if (pending) await pending;
      }
      if (cut >= 0) this.#checkLength(recordOf(ks[cut]!), blobs.length(ks[cut]!), blobs.id(ks[cut]!), packId);
    };
    // Large records are decoded ahead of the caller, on pool threads, and handed out in order.
    const large = new Map<number, Promise<{ data: Buffer; release: () => void }>>();
    // A chunk that compresses well is small stored, but as large as any once decoded.
    const toDecode: number[] = [];
    for (let k = from; k < to; k++) if (Math.max(blobs.length(k), blobs.rawLength(k)) >= BATCH_RECORD_BELOW) toDecode.push(k);
    let nextToDecode = 0;
    let aheadBytes = 0;
    const decodeAhead = () => {
      while (nextToDecode < toDecode.length && (large.size === 0 || aheadBytes + blobs.rawLength(toDecode[nextToDecode]!) <= LARGE_DECODE_AHEAD_BYTES)) {
        const k = toDecode[nextToDecode++]!;
        aheadBytes += blobs.rawLength(k);
        const decodedInto = buffers?.lease(blobs.rawLength(k));
        const decoding = this.#decodeRecord(recordOf(k), { id: blobs.id(k), packId, length: blobs.length(k), rawLength: blobs.rawLength(k) }, decodedInto?.buffer).then((data) => ({
          data,
          release: decodedInto?.releases[0] ?? noRelease,
        }));
        // Its failure is reported when its turn comes, after the blobs before it.
        decoding.catch(() => undefined);
        large.set(k, decoding);
      }
    };
    try {
      decodeAhead();
      for (let k = from; k < to; k++) {
        const decoding = large.get(k);
        if (decoding) {
          if (batch.length > 0) await openBatch();
          const { data, release } = await decoding;
          large.delete(k);
          aheadBytes -= blobs.rawLength(k);
          decodeAhead();
          const pending = onBlob(k, data, release);
          if (pending) await pending;
          continue;
        }
        // A batch stays within BATCH_BYTES: one more record past it made its buffer twice the size.
        if (batch.length > 0 && batchBytes + blobs.rawLength(k) > BATCH_BYTES) await openBatch();
        batch.push(k);
        batchBytes += blobs.rawLength(k);
        if (batch.length >= BATCH_RECORDS || batchBytes >= BATCH_BYTES) await openBatch();
      }
      if (batch.length > 0) await openBatch();
    } finally {
      // The span's bytes are reused only once no decoding still reads them (a caller that stops early).
      if (span) void Promise.allSettled(large.values()).then(span.releases[0]);
    }
  }

  /** `into`: where the data goes, `blob.rawLength` bytes; without one, a new Buffer. */
  async #decodeRecord(record: Buffer, blob: RecordOf, into: Buffer = Buffer.allocUnsafe(blob.rawLength)): Promise<Buffer> {
    this.#checkLength(record, blob.length, blob.id, blob.packId);
    let decoded: { data: Buffer; id: string } | RecordDecodeError;
    try {
      decoded = await decodeRecord(record, this.#key, into, blob.rawLength);
    } catch (err) {
      if (!(err instanceof RecordDecodeError)) throw err;
      decoded = err;
    }
    return this.#checked(decoded, blob.id, blob.packId);
  }

  #where(id: string, packId: string): string {
    return `blob ${id.slice(0, 12)} in pack ${packId.slice(0, 12)} on ${this.#adapter.name}`;
  }

  #checkLength(record: Buffer, length: number, id: string, packId: string): void {
    if (record.length !== length) throw new IntegrityError(`${this.#where(id, packId)} is truncated`);
  }

  /** Every blob read is checked against its id: damage never reaches a restored file. */
  #checked(decoded: { data: Buffer; id: string } | RecordDecodeError, id: string, packId: string): Buffer {
    if (decoded instanceof RecordDecodeError) throw new IntegrityError(`${this.#where(id, packId)} ${decoded.message} (damaged)`, { cause: decoded });
    if (decoded.id !== id) throw new IntegrityError(`${this.#where(id, packId)} does not match its id (damaged)`);
    return decoded.data;
  }

  async loadTree(id: string): Promise<TreeNode[]> {
    return deserializeTree(await this.loadBlob(id), id);
  }

  /**
   * The plaintext of trees read together: one request per span of each pack, the records
   * opened in batches, the packs at once. Taken in the order given until their plaintext
   * would pass `maxBytes` (`taken` says how many); those not read (past that, not in the
   * index, damaged) are left out, for the caller to read alone with loadTree, which says
   * what is wrong with each. Parsed by the caller (deserializeTree) as it needs each:
   * thousands of nodes parsed at once lived long enough for the garbage collector to move
   * them, at a cost.
   */
  async loadTrees(ids: readonly string[], maxBytes = Number.POSITIVE_INFINITY, whole?: WholePacks): Promise<{ trees: Map<string, Buffer>; taken: number }> {
    const trees = new Map<string, Buffer>();
    const taken = await this.#readTrees(ids, maxBytes, whole, undefined, (id, data) => void trees.set(id, data));
    return { trees, taken };
  }

  /**
   * loadTrees for a caller that only asks which trees read back: each decoded into
   * `buffers`' memory and given back at once, so a check reading every tree of a backup
   * leaves no garbage behind it.
   */
  async readBackTrees(ids: readonly string[], maxBytes: number, buffers: BufferPool, whole?: WholePacks): Promise<{ read: Set<string>; taken: number }> {
    const read = new Set<string>();
    const taken = await this.#readTrees(ids, maxBytes, whole, buffers, (id, _data, release) => {
      read.add(id);
      release();
    });
    return { read, taken };
  }

  /** The trees of loadTrees, each handed to `onTree` as it is decoded; returns how many of `ids` were taken. */
  async #readTrees(
    ids: readonly string[],
    maxBytes: number,
    whole: WholePacks | undefined,
    buffers: BufferPool | undefined,
    onTree: (id: string, data: Buffer, release: () => void) => void,
  ): Promise<number> {
    const byPack = new Map<string, BlobLocation[]>();
    const listed = new Set<string>();
    let bytes = 0;
    let taken = 0;
    for (const id of ids) {
      // A tree asked for twice (identical directories) is read once.
      if (listed.has(id)) {
        taken++;
        continue;
      }
      const location = this.#index.get(id);
      if (location?.type === 'tree' && bytes + location.rawLength > maxBytes) break;
      taken++;
      if (!location || location.type !== 'tree') continue;
      listed.add(id);
      bytes += location.rawLength;
      let group = byPack.get(location.packId);
      if (!group) byPack.set(location.packId, (group = []));
      group.push(location);
    }
    const reading = new Slots(TREE_PACKS_IN_FLIGHT);
    await Promise.all(
      [...byPack].map(async ([packId, locations]) => {
        await reading.acquire();
        try {
          const blobs = new LocatedBlobs(locations);
          await this.readPack(packId, blobs, (k, data, release) => onTree(blobs.id(k), data, release), buffers, whole);
        } catch {
          // The pack's remaining trees are left out: loadTree reports each.
        } finally {
          reading.release();
        }
      }),
    );
    return taken;
  }

  /**
   * Reads a whole pack and checks it: its bytes must hash to its name, and every blob
   * listed (where the index places it in this pack) must decrypt, decompress and hash to its id.
   */
  async checkPack(packId: string, expectedSize: number | undefined, blobs: BlobLocation[]): Promise<PackCheck> {
    let bytes: Buffer;
    try {
      bytes = await readAll(await this.#adapter.get(packKey(packId)));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return { packId, ok: false, problem: 'missing', damagedBlobs: blobs.map((b) => b.id) };
      throw err;
    }
    const check: PackCheck = { packId, ok: true, damagedBlobs: [] };
    if (expectedSize !== undefined && bytes.length !== expectedSize) {
      check.ok = false;
      check.problem = `${bytes.length} bytes, the index says ${expectedSize} (truncated or overwritten)`;
    } else if (sha256Hex(bytes) !== packId) {
      check.ok = false;
      check.problem = 'its content does not match its name (damaged)';
    }
    for (const b of blobs) {
      try {
        await this.#decodeRecord(bytes.subarray(b.offset, b.offset + b.length), b);
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        check.ok = false;
        check.damagedBlobs.push(b.id);
      }
    }
    return check;
  }

  /** The pack's blob list from its own header, for rebuilding an index without one. */
  async readPackHeader(packId: string, size: number): Promise<PackHeaderEntry[]> {
    // Headers are small; the tail read covers them in one request for all but huge packs.
    const tailLength = Math.min(size, 1024 * 1024);
    let tail = await readAll(await this.#adapter.get(packKey(packId), { offset: size - tailLength, length: tailLength }));
    const headerLength = tail.length >= 12 ? tail.readUInt32LE(tail.length - 12) : 0;
    if (headerLength + 12 > tail.length && headerLength + 12 <= size) tail = await readAll(await this.#adapter.get(packKey(packId), { offset: size - headerLength - 12, length: headerLength + 12 }));
    return parsePackHeader(tail, size, (sealed) => this.#envelope.open(sealed, `header of pack ${packId.slice(0, 12)}`), packId);
  }
}
