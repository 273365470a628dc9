import type { BlobEntries, BlobLocation } from './blob-index.js';

/**
 * The blobs of one pack a reader is to read, by position, in pack order (by offset).
 * A reader hands each one back by its position: a restore of small files reads
 * thousands of blobs per pack, and an object and an id string per blob, held while the
 * pack is read, were most of what its garbage collector moved to the old generation.
 */
export interface PackBlobs {
  readonly count: number;
  /** The blob's id (hex): its content must hash to it. */
  id(k: number): string;
  offset(k: number): number;
  /** Stored length of its record. */
  length(k: number): number;
  /** Plaintext length. */
  rawLength(k: number): number;
}

/** Locations in one pack, sorted by offset (a copy: the caller's array is left as it is). */
export class LocatedBlobs implements PackBlobs {
  readonly #sorted: BlobLocation[];

  constructor(locations: readonly BlobLocation[]) {
    this.#sorted = [...locations].sort((a, b) => a.offset - b.offset);
  }

  get count(): number {
    return this.#sorted.length;
  }

  at(k: number): BlobLocation {
    return this.#sorted[k]!;
  }

  id(k: number): string {
    return this.#sorted[k]!.id;
  }

  offset(k: number): number {
    return this.#sorted[k]!.offset;
  }

  length(k: number): number {
    return this.#sorted[k]!.length;
  }

  rawLength(k: number): number {
    return this.#sorted[k]!.rawLength;
  }
}

/** Index entries of one pack, already in pack order: numbers, no object per blob. */
export class IndexedBlobs implements PackBlobs {
  constructor(
    readonly index: BlobEntries,
    readonly entries: Uint32Array,
  ) {}

  get count(): number {
    return this.entries.length;
  }

  id(k: number): string {
    return this.index.idAt(this.entries[k]!);
  }

  offset(k: number): number {
    return this.index.offsetAt(this.entries[k]!);
  }

  length(k: number): number {
    return this.index.lengthAt(this.entries[k]!);
  }

  rawLength(k: number): number {
    return this.index.rawLengthAt(this.entries[k]!);
  }
}
