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
 * Blob id → where it lives. Kept behind this small class so the in-memory form can
 * become more compact (typed arrays keyed by the binary id) without touching callers.
 */
export class BlobIndex {
  readonly #byId = new Map<string, BlobLocation>();

  get size(): number {
    return this.#byId.size;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  get(id: string): BlobLocation | undefined {
    return this.#byId.get(id);
  }

  add(location: BlobLocation): void {
    // The first location wins: a blob stored twice (two concurrent backups) is fine in either pack.
    if (!this.#byId.has(location.id)) this.#byId.set(location.id, location);
  }

  values(): IterableIterator<BlobLocation> {
    return this.#byId.values();
  }
}
