import { readAll, type StorageAdapter } from '../storage/adapter.js';

/** Index files being read ahead of their use at most, and their listed bytes. */
const AHEAD_FILES = 8;
const AHEAD_BYTES = 16 * 1024 * 1024;
/** Counted for a file whose listing gives no size (some object stores list none). */
const UNKNOWN_SIZE = 1024 * 1024;

/**
 * A repository's index files, listed, and (with `ahead`) read a few ahead of their use:
 * an open starts reading them while the key is derived. They are taken in the order
 * listed; a read's failure is heard when its file is taken.
 */
export class IndexFilesAhead {
  readonly keys: string[];
  readonly #adapter: StorageAdapter;
  readonly #sizes: number[];
  readonly #ahead: boolean;
  readonly #reads = new Map<number, Promise<Buffer>>();
  /** Files before this one have been read, or are being read. */
  #started = 0;
  #bytes = 0;

  private constructor(adapter: StorageAdapter, keys: string[], sizes: number[], ahead: boolean) {
    this.#adapter = adapter;
    this.keys = keys;
    this.#sizes = sizes;
    this.#ahead = ahead;
    this.#fill();
  }

  static async list(adapter: StorageAdapter, ahead: boolean): Promise<IndexFilesAhead> {
    const keys: string[] = [];
    const sizes: number[] = [];
    for await (const obj of adapter.list('index/')) {
      keys.push(obj.key);
      sizes.push(obj.size);
    }
    return new IndexFilesAhead(adapter, keys, sizes, ahead);
  }

  /** The stored bytes of the `i`th file; files are taken in order. */
  take(i: number): Promise<Buffer> {
    let read = this.#reads.get(i);
    if (read) {
      this.#reads.delete(i);
      this.#bytes -= this.#size(i);
    } else {
      read = this.#read(i);
      this.#started = Math.max(this.#started, i + 1);
    }
    this.#fill();
    return read;
  }

  /** Once every read started and not taken has ended: none outlives a refused open. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#reads.values());
  }

  #fill(): void {
    while (this.#ahead && this.#started < this.keys.length && this.#reads.size < AHEAD_FILES && this.#bytes < AHEAD_BYTES) {
      const i = this.#started++;
      const read = this.#read(i);
      // Heard when taken; until then its failure must not count as unhandled.
      read.catch(() => undefined);
      this.#reads.set(i, read);
      this.#bytes += this.#size(i);
    }
  }

  #size(i: number): number {
    const size = this.#sizes[i]!;
    return size > 0 ? size : UNKNOWN_SIZE;
  }

  async #read(i: number): Promise<Buffer> {
    return readAll(await this.#adapter.get(this.keys[i]!));
  }
}
