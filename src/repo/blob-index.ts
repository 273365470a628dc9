import { resized } from '../core/typed-arrays.js';
import { BLOB_FIELDS, ID_BYTES, type ScannedIndexFile } from './index-file-scan.js';

export type BlobType = 'data' | 'tree';

export interface BlobLocation {
  id: string;
  packId: string;
  type: BlobType;
  /** Byte offset and stored length of the blob's record inside the pack. */
  offset: number;
  length: number;
  /** Plaintext length. */
  rawLength: number;
}

/**
 * Read access to an index by entry number, for callers that hold many blobs at once (a
 * restore plan): a number per blob where a BlobLocation object, and its id string, cost
 * a restore of 20 000 files tens of milliseconds of garbage collection. An entry's number
 * stays valid while the index lives.
 */
export interface BlobEntries {
  /** The entry number of `id`, or -1 when the index does not have it. */
  entryOf(id: string): number;
  /** Entries of one pack share its number. */
  packNumberAt(entry: number): number;
  packIdAt(entry: number): string;
  idAt(entry: number): string;
  offsetAt(entry: number): number;
  /** Stored length of the blob's record. */
  lengthAt(entry: number): number;
  rawLengthAt(entry: number): number;
  locationAt(entry: number): BlobLocation;
}

/**
 * Per entry, uint32 each: the pack number shifted left by one with the type in the low bit
 * (1 tree, 0 data), offset, stored length, plaintext length. An index file scans to five
 * (BLOB_FIELDS, the type apart): four kept a million blobs' index in 4 MiB less.
 */
const FIELDS = 4;
/** An id as 32-bit words: compared and copied word by word, in JavaScript, without a call into Node per id. */
const ID_WORDS = ID_BYTES / 4;
const EMPTY = -1;

/**
 * Blob id → where it lives, in typed arrays: binary ids in one buffer, the other
 * fields in a Uint32Array, and an open-addressing table of entry numbers keyed by the
 * id's first word (ids are SHA-256, so those are uniform). About 60 bytes a blob, where
 * a Map of hex strings to objects took over 250: with a million files, the difference
 * between a flat memory profile and one that grows with the repository.
 */
export class BlobIndex implements BlobEntries {
  #ids = new Uint32Array(0);
  /** #ids as bytes, replaced with it when it grows: for reading an entry's id as hex. */
  #idBytes = Buffer.alloc(0);
  #fields = new Uint32Array(0);
  #slots = new Int32Array(0);
  #count = 0;
  readonly #packIds: string[] = [];
  readonly #packNumbers = new Map<string, number>();
  /** Scratch for the binary form of a queried id, so a lookup allocates nothing. */
  readonly #query = new Uint32Array(ID_WORDS);
  readonly #queryBytes = Buffer.from(this.#query.buffer);

  get size(): number {
    return this.#count;
  }

  /** The packs at least one entry names. */
  get packIds(): readonly string[] {
    return this.#packIds;
  }

  has(id: string): boolean {
    return this.#find(id) !== EMPTY;
  }

  get(id: string): BlobLocation | undefined {
    const entry = this.#find(id);
    return entry === EMPTY ? undefined : this.#location(entry, id);
  }

  entryOf(id: string): number {
    return this.#find(id);
  }

  packNumberAt(entry: number): number {
    return this.#fields[entry * FIELDS]! >>> 1;
  }

  packIdAt(entry: number): string {
    return this.#packIds[this.packNumberAt(entry)]!;
  }

  idAt(entry: number): string {
    return this.#idBytes.toString('hex', entry * ID_BYTES, (entry + 1) * ID_BYTES);
  }

  offsetAt(entry: number): number {
    return this.#fields[entry * FIELDS + 1]!;
  }

  lengthAt(entry: number): number {
    return this.#fields[entry * FIELDS + 2]!;
  }

  rawLengthAt(entry: number): number {
    return this.#fields[entry * FIELDS + 3]!;
  }

  locationAt(entry: number): BlobLocation {
    return this.#location(entry, this.idAt(entry));
  }

  add(location: BlobLocation): void {
    if (!this.#parseQuery(location.id)) throw new Error(`not a blob id: ${location.id}`);
    // The first location wins: a blob stored twice (two concurrent backups) is fine in either pack.
    if (this.#probe(this.#query, 0) !== EMPTY) return;
    this.reserve(1);
    const entry = this.#count;
    this.#ids.set(this.#query, entry * ID_WORDS);
    this.#commit(entry, this.#packNumber(location.packId), location.offset, location.length, location.rawLength, location.type === 'tree' ? 1 : 0);
  }

  /** Every blob of a scanned index file, as add() would take them one by one. */
  addScanned(file: ScannedIndexFile): void {
    this.reserve(file.count);
    const fileIds = wordsOf(file.ids);
    const fields = file.fields;
    // The file's pack numbers, mapped to ours when their first blob is added.
    const packNos = new Int32Array(file.packIds.length).fill(EMPTY);
    for (let e = 0; e < file.count; e++) {
      // Copied to where it would go, then looked for there: a blob already known leaves it unused.
      const entry = this.#count;
      const ids = this.#ids;
      for (let w = 0, to = entry * ID_WORDS, from = e * ID_WORDS; w < ID_WORDS; w++) ids[to + w] = fileIds[from + w]!;
      if (this.#probe(ids, entry * ID_WORDS) !== EMPTY) continue;
      const f = e * BLOB_FIELDS;
      const filePackNo = fields[f]!;
      if (packNos[filePackNo] === EMPTY) packNos[filePackNo] = this.#packNumber(file.packIds[filePackNo]!);
      this.#commit(entry, packNos[filePackNo]!, fields[f + 1]!, fields[f + 2]!, fields[f + 3]!, fields[f + 4]!);
    }
  }

  /** Blobs added while iterating are included: #count and #idBytes follow them. */
  *values(): IterableIterator<BlobLocation> {
    for (let entry = 0; entry < this.#count; entry++) yield this.locationAt(entry);
  }

  /** Makes room for `more` entries at once: an index loaded whole otherwise doubled (and re-placed every entry) a dozen times. */
  reserve(more: number): void {
    if ((this.#count + more) * 2 > this.#slots.length) this.#grow(this.#count + more);
  }

  /** The entry number of `id`, or EMPTY. */
  #find(id: string): number {
    return this.#parseQuery(id) ? this.#probe(this.#query, 0) : EMPTY;
  }

  /** Puts the binary form of `id` in #query; false when it is not a blob id. */
  #parseQuery(id: string): boolean {
    return id.length === ID_BYTES * 2 && this.#queryBytes.write(id, 'hex') === ID_BYTES;
  }

  /** The entry whose id is the ID_WORDS words of `words` at `at`, or EMPTY. */
  #probe(words: Uint32Array, at: number): number {
    const mask = this.#slots.length - 1;
    if (mask < 0) return EMPTY;
    const ids = this.#ids;
    for (let slot = words[at]! & mask; ; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot]!;
      if (entry === EMPTY) return EMPTY;
      let w = 0;
      for (const base = entry * ID_WORDS; w < ID_WORDS && ids[base + w] === words[at + w]; w++);
      if (w === ID_WORDS) return entry;
    }
  }

  /** Makes `entry`, whose id is already in #ids, the next one; room was reserved. */
  #commit(entry: number, packNo: number, offset: number, length: number, rawLength: number, type: number): void {
    const f = entry * FIELDS;
    this.#fields[f] = ((packNo << 1) | (type === 1 ? 1 : 0)) >>> 0;
    this.#fields[f + 1] = offset;
    this.#fields[f + 2] = length;
    this.#fields[f + 3] = rawLength;
    this.#place(entry);
    this.#count++;
  }

  #packNumber(packId: string): number {
    let packNo = this.#packNumbers.get(packId);
    if (packNo === undefined) {
      // Kept shifted left by one in a uint32 (FIELDS); 2^31 packs of even 1 MiB would be two pebibytes.
      if (this.#packIds.length >= 2 ** 31) throw new Error('an index of more than 2^31 packs');
      packNo = this.#packIds.push(packId) - 1;
      this.#packNumbers.set(packId, packNo);
    }
    return packNo;
  }

  #place(entry: number): void {
    const mask = this.#slots.length - 1;
    let slot = this.#ids[entry * ID_WORDS]! & mask;
    while (this.#slots[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.#slots[slot] = entry;
  }

  /** Doubles every array, or more to hold `entries` (at most half the slots are ever used, so probes stay short). */
  #grow(entries: number): void {
    let capacity = Math.max(1024, this.#slots.length);
    while (capacity < entries) capacity *= 2;
    const ids = resized(this.#ids, capacity * ID_WORDS);
    this.#ids = ids;
    this.#idBytes = Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength);
    this.#fields = resized(this.#fields, capacity * FIELDS);
    this.#slots = new Int32Array(capacity * 2).fill(EMPTY);
    for (let entry = 0; entry < this.#count; entry++) this.#place(entry);
  }

  #location(entry: number, id: string): BlobLocation {
    const f = entry * FIELDS;
    return {
      id,
      packId: this.#packIds[this.#fields[f]! >>> 1]!,
      type: (this.#fields[f]! & 1) === 1 ? 'tree' : 'data',
      offset: this.#fields[f + 1]!,
      length: this.#fields[f + 2]!,
      rawLength: this.#fields[f + 3]!,
    };
  }
}

/** The bytes of ids as 32-bit words, copied only when they do not start on a word boundary. */
function wordsOf(bytes: Buffer): Uint32Array {
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const words = new Uint32Array(bytes.length / 4);
  Buffer.from(words.buffer).set(bytes);
  return words;
}
