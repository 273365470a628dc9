import { alignedBuffer } from '../core/aligned-buffer.js';

/** From this size on, new buffers are huge-page memory. */
const HUGE_PAGE = 2 * 1024 * 1024;

/**
 * Buffers handed out again once everyone holding them is done, instead of garbage.
 *
 * A restore reads and decodes its whole repository through fresh Buffers. V8 answers
 * every 64 MiB of new external memory with a full mark of the heap: on the bench's
 * 280 MiB restore that was ten marks of the 28 MiB restore plan, 0.4 s of CPU, and the
 * freed Buffers waited for them, 80 MiB of the peak RSS.
 */
export class BufferPool {
  /** Free buffers by size class (a power of two). */
  readonly #free = new Map<number, Buffer[]>();
  #retained = 0;

  /**
   * @param maxRetained bytes of free buffers kept for reuse; a release beyond it leaves
   *   its buffer to the garbage collector.
   * @param allocate makes a buffer of a size class when none is free: by default, huge-page
   *   memory from 2 MiB on (a restore's first fill of its buffers was 10 000 page faults).
   */
  constructor(
    readonly maxRetained: number,
    readonly allocate: (size: number) => Buffer = (size) => (size >= HUGE_PAGE ? alignedBuffer(size) : Buffer.allocUnsafeSlow(size)),
  ) {}

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
    const reused = this.#free.get(sizeClass)?.pop();
    if (!reused) return this.allocate(sizeClass);
    this.#retained -= reused.length;
    return reused;
  }

  #giveBack(whole: Buffer): void {
    if (this.#retained + whole.length > this.maxRetained) return;
    const list = this.#free.get(whole.length);
    if (list) list.push(whole);
    else this.#free.set(whole.length, [whole]);
    this.#retained += whole.length;
  }
}

/** Sizes are rounded up to a power of two, at least 64 KiB, so that buffers fit many requests. */
function classOf(size: number): number {
  let sizeClass = 64 * 1024;
  while (sizeClass < size) sizeClass *= 2;
  return sizeClass;
}
