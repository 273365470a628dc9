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

const ID_BYTES = 32;
/** Per entry: pack number, offset, stored length, plaintext length, type (uint32 each). */
const FIELDS = 5;
const EMPTY = -1;

/**
 * Blob id → where it lives, in typed arrays: binary ids in one buffer, the other
 * fields in a Uint32Array, and an open-addressing table of entry numbers keyed by the
 * id's first bytes (ids are SHA-256, so those are uniform). About 60 bytes a blob, where
 * a Map of hex strings to objects took over 250: with a million files, the difference
 * between a flat memory profile and one that grows with the repository.
 */
export class BlobIndex {
  #ids = Buffer.alloc(0);
  #fields = new Uint32Array(0);
  #slots = new Int32Array(0);
  #count = 0;
  readonly #packIds: string[] = [];
  readonly #packNumbers = new Map<string, number>();
  /** Scratch for the binary form of a queried id, so a lookup allocates nothing. */
  readonly #query = Buffer.alloc(ID_BYTES);
  #validQuery = false;

  get size(): number {
    return this.#count;
  }

  has(id: string): boolean {
    return this.#find(id) !== EMPTY;
  }

  get(id: string): BlobLocation | undefined {
    const entry = this.#find(id);
    return entry === EMPTY ? undefined : this.#location(entry, id);
  }

  add(location: BlobLocation): void {
    // The first location wins: a blob stored twice (two concurrent backups) is fine in either pack.
    if (this.#find(location.id) !== EMPTY) return;
    if (!this.#validQuery) throw new Error(`not a blob id: ${location.id}`);
    if ((this.#count + 1) * 2 > this.#slots.length) this.#grow();
    const entry = this.#count++;
    this.#query.copy(this.#ids, entry * ID_BYTES);
    let packNo = this.#packNumbers.get(location.packId);
    if (packNo === undefined) {
      packNo = this.#packIds.push(location.packId) - 1;
      this.#packNumbers.set(location.packId, packNo);
    }
    const f = entry * FIELDS;
    this.#fields[f] = packNo;
    this.#fields[f + 1] = location.offset;
    this.#fields[f + 2] = location.length;
    this.#fields[f + 3] = location.rawLength;
    this.#fields[f + 4] = location.type === 'tree' ? 1 : 0;
    this.#place(entry);
  }

  *values(): IterableIterator<BlobLocation> {
    for (let entry = 0; entry < this.#count; entry++) {
      yield this.#location(entry, this.#ids.toString('hex', entry * ID_BYTES, (entry + 1) * ID_BYTES));
    }
  }

  /** The entry number of `id`, or EMPTY; leaves its binary form in #query. */
  #find(id: string): number {
    this.#validQuery = id.length === ID_BYTES * 2 && this.#query.write(id, 'hex') === ID_BYTES;
    if (!this.#validQuery) return EMPTY;
    const mask = this.#slots.length - 1;
    if (mask < 0) return EMPTY;
    for (let slot = this.#query.readUInt32LE(0) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot]!;
      if (entry === EMPTY) return EMPTY;
      if (this.#ids.compare(this.#query, 0, ID_BYTES, entry * ID_BYTES, (entry + 1) * ID_BYTES) === 0) return entry;
    }
  }

  #place(entry: number): void {
    const mask = this.#slots.length - 1;
    let slot = this.#ids.readUInt32LE(entry * ID_BYTES) & mask;
    while (this.#slots[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.#slots[slot] = entry;
  }

  /** Makes room for `more` entries at once: an index loaded whole otherwise doubled (and re-placed every entry) a dozen times. */
  reserve(more: number): void {
    if ((this.#count + more) * 2 > this.#slots.length) this.#grow(this.#count + more);
  }

  /** Doubles every array, or more to hold `entries` (at most half the slots are ever used, so probes stay short). */
  #grow(entries = 0): void {
    let capacity = Math.max(1024, this.#slots.length);
    while (capacity < entries) capacity *= 2;
    const ids = Buffer.alloc(capacity * ID_BYTES);
    this.#ids.copy(ids);
    this.#ids = ids;
    const fields = new Uint32Array(capacity * FIELDS);
    fields.set(this.#fields);
    this.#fields = fields;
    this.#slots = new Int32Array(capacity * 2).fill(EMPTY);
    for (let entry = 0; entry < this.#count; entry++) this.#place(entry);
  }

  #location(entry: number, id: string): BlobLocation {
    const f = entry * FIELDS;
    return {
      id,
      packId: this.#packIds[this.#fields[f]!]!,
      type: this.#fields[f + 4] === 1 ? 'tree' : 'data',
      offset: this.#fields[f + 1]!,
      length: this.#fields[f + 2]!,
      rawLength: this.#fields[f + 3]!,
    };
  }
}
