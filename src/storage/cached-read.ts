import { loadNativeAddon } from '../core/native-addon.js';

interface CachedReadAddon {
  /** Absent from an addon built before it: every read then goes the usual way until `npm rebuild`. */
  readCached?(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
}

/**
 * Reads `length` bytes at `position` into `buffer` at `offset`, on this thread, from what
 * the page cache holds (preadv2 with RWF_NOWAIT; native/bkdr_fs.c): the bytes read, fewer
 * when only the first of them are cached, or -1 when none is, when the kernel cannot tell,
 * or when the read fails. It does not wait for data to come from a disk or a network
 * mount. A read that is not whole is finished the usual way, which also reports a failure.
 */
export function readCached(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
  return loadNativeAddon<CachedReadAddon>('bkdr_fs').readCached?.(fd, buffer, offset, length, position) ?? -1;
}
