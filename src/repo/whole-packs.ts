import { readAll, type StorageAdapter } from '../storage/adapter.js';
import { packKey } from './pack.js';

/**
 * Packs read whole the first time one is needed, and kept, up to a budget, for a pass
 * that reads the same packs again and again. The check after a backup reads a snapshot's
 * trees a level at a time, and each level's trees lie all over the tree packs: read by
 * ranges, each level read most of them again (the bench's real tree: 57 MB read for
 * 4.7 MB of trees). A pack that would pass the budget is read by ranges, as before.
 */
export class WholePacks {
  readonly #adapter: StorageAdapter;
  readonly #sizes: ReadonlyMap<string, number>;
  #left: number;
  readonly #held = new Map<string, Promise<Buffer>>();

  /** `sizes`: the stored size of each pack that may be kept; a pack not in it never is. */
  constructor(adapter: StorageAdapter, sizes: ReadonlyMap<string, number>, budget: number) {
    this.#adapter = adapter;
    this.#sizes = sizes;
    this.#left = budget;
  }

  /** The whole pack, read once; undefined when it does not fit what is left of the budget. */
  bytesOf(packId: string): Promise<Buffer> | undefined {
    const held = this.#held.get(packId);
    if (held) return held;
    const size = this.#sizes.get(packId);
    if (size === undefined || size > this.#left) return undefined;
    this.#left -= size;
    const reading = this.#adapter.get(packKey(packId)).then(readAll);
    this.#held.set(packId, reading);
    // A read that failed is not kept: the next one tries again.
    reading.catch(() => {
      this.#held.delete(packId);
      this.#left += size;
    });
    return reading;
  }
}
