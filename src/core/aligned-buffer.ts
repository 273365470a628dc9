import { loadNativeAddon } from './native-addon.js';

interface AlignedBufferAddon {
  alignedBuffer(size: number): Buffer;
  discardPages(buffer: Buffer): void;
}

/**
 * A buffer starting on a 4096-byte boundary, as O_DIRECT needs (storage/direct-io.ts);
 * from 2 MiB on, on a 2 MiB boundary and backed by transparent huge pages where the
 * kernel has them: each first touch of a fresh 4 KiB page is a fault, and a buffer of
 * many MiB filled once took thousands. Its contents are undefined. Meant for buffers
 * that live long (pooled): the memory is freed only when the garbage collector finds it.
 */
export function alignedBuffer(size: number): Buffer {
  return loadNativeAddon<AlignedBufferAddon>('bkdr_blob').alignedBuffer(size);
}

/**
 * Gives the whole pages of `buffer` back to the kernel (madvise MADV_DONTNEED) and keeps
 * the buffer: its contents become zeros, and its next use faults its pages in again. For
 * pooled buffers that sit unused: kept as they are, they count in the resident set.
 */
export function discardPages(buffer: Buffer): void {
  loadNativeAddon<AlignedBufferAddon>('bkdr_blob').discardPages(buffer);
}
