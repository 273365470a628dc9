import { alignedBuffer, discardPages } from '../core/aligned-buffer.js';

/** From this size on, new buffers are huge-page memory. */
const HUGE_PAGE = 2 * 1024 * 1024;

/**
 * What a backup's pools (chunker reads, small-file reads, records, packs) let a free
 * buffer of 2 MiB or more sit before its pages go back to the kernel. Kept, they held
 * what the busiest moment had needed all through the run: at the end of a first backup
 * of a 55 000-file tree, the chunker's five read buffers (38 MiB resident, idle since
 * the large files) and three idle pack buffers. Discarded after 100 ms idle, its peak
 * RSS fell from 232 to 194 MiB (medians of five alternating runs), CPU time the same
 * (5.77 s and 5.83 s): buffers in steady use are not idle that long. After 50 ms it was
 * 189 MiB and 2 % more CPU, from faulting the pages in again.
 */
export const BACKUP_IDLE_DISCARD_MS = 100;

export interface BufferPoolOptions {
  /**
   * Makes a buffer of a size class when none is free: by default, huge-page memory from
   * 2 MiB on (a restore's first fill of its buffers was 10 000 page faults).
   */
  allocate?: (size: number) => Buffer;
  /**
   * Milliseconds after which a free buffer of HUGE_PAGE or more gives its pages back to
   * the kernel (discardPages); kept as they are when not given.
   */
  discardIdleAfter?: number | undefined;
  /**
   * When no free buffer of a lease's size class is left, the lease may take a free one of
   * up to this many times that class (a power of two) before a new one is made. Off (1)
   * by default.
   */
  borrowUpTo?: number | undefined;
}

/**
 * Buffers handed out again once everyone holding them is done, instead of garbage.
 *
 * A restore reads and decodes its whole repository through fresh Buffers. V8 answers
 * every 64 MiB of new external memory with a full mark of the heap: on the bench's
 * 280 MiB restore that was ten marks of the 28 MiB restore plan, 0.4 s of CPU, and the
 * freed Buffers waited for them, 80 MiB of the peak RSS.
 */
export class BufferPool {
  /** Free buffers by size class (a power of two), the latest returned last. */
  readonly #free = new Map<number, Buffer[]>();
  #retained = 0;
  readonly #allocate: (size: number) => Buffer;
  readonly #discardIdleAfter: number | undefined;
  readonly #borrowUpTo: number;
  /** Free buffers whose pages are still in memory, and since when they are free. */
  readonly #idleSince = new Map<Buffer, number>();
  #sweep: NodeJS.Timeout | undefined;

  /**
   * @param maxRetained bytes of free buffers kept for reuse; a release beyond it leaves
   *   its buffer to the garbage collector.
   */
  constructor(
    readonly maxRetained: number,
    opts: BufferPoolOptions = {},
  ) {
    this.#allocate = opts.allocate ?? ((size) => (size >= HUGE_PAGE ? alignedBuffer(size) : Buffer.allocUnsafeSlow(size)));
    this.#discardIdleAfter = opts.discardIdleAfter;
    this.#borrowUpTo = opts.borrowUpTo ?? 1;
  }

  /**
   * A buffer of exactly `size` bytes (its contents are old data), shared by `holders`:
   * each calls its release function once when done with the buffer, and the last one
   * returns it to the pool. A holder that never releases only costs the reuse.
   */
  lease(size: number, holders = 1): { buffer: Buffer; releases: (() => void)[] } {
    const whole = this.#take(classOf(size));
    let outstanding = holders;
    const releases = Array.from({ length: holders }, () => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (--outstanding === 0) this.#giveBack(whole);
      };
    });
    return { buffer: whole.subarray(0, size), releases };
  }

  /** The capacity a lease of `size` bytes takes: what a pool must be allowed to keep to reuse it. */
  static sizeClassOf(size: number): number {
    return classOf(size);
  }

  /** Bytes of free buffers held for reuse. */
  get retained(): number {
    return this.#retained;
  }

  #take(sizeClass: number): Buffer {
    let reused: Buffer | undefined;
    for (let c = sizeClass; !reused && c <= sizeClass * this.#borrowUpTo; c *= 2) reused = this.#free.get(c)?.pop();
    if (!reused) return this.#allocate(sizeClass);
    this.#retained -= reused.length;
    this.#idleSince.delete(reused);
    return reused;
  }

  #giveBack(whole: Buffer): void {
    if (this.#retained + whole.length > this.maxRetained) return;
    const list = this.#free.get(whole.length);
    if (list) list.push(whole);
    else this.#free.set(whole.length, [whole]);
    this.#retained += whole.length;
    if (this.#discardIdleAfter !== undefined && whole.length >= HUGE_PAGE) {
      this.#idleSince.set(whole, performance.now());
      this.#scheduleSweep();
    }
  }

  #scheduleSweep(): void {
    if (this.#sweep || this.#idleSince.size === 0) return;
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      const now = performance.now();
      for (const [buffer, since] of this.#idleSince) {
        if (now - since < this.#discardIdleAfter!) continue;
        discardPages(buffer);
        this.#idleSince.delete(buffer);
      }
      this.#scheduleSweep();
    }, this.#discardIdleAfter);
    // A pool with idle buffers does not keep the process alive.
    this.#sweep.unref();
  }
}

/** Sizes are rounded up to a power of two, at least 64 KiB, so that buffers fit many requests. */
function classOf(size: number): number {
  let sizeClass = 64 * 1024;
  while (sizeClass < size) sizeClass *= 2;
  return sizeClass;
}
