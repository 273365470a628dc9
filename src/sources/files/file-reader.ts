import { type BigIntStats, closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

async function openForBackup(path: Buffer): Promise<FileHandle> {
  const flags = fsc.O_RDONLY | fsc.O_NOFOLLOW;
  try {
    // O_NOATIME: a backup should not look like a user read the file; only the owner or root may use it.
    return await open(path, flags | fsc.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return open(path, flags);
  }
}

/**
 * Opens a file for backup and hands `fn` a reader of its bytes in order (holes read as
 * zeros), into buffers the caller owns; the file is closed when `fn` settles.
 */
export async function withFileReader<T>(path: Buffer, fn: (read: (buf: Buffer, offset: number, length: number) => Promise<number>) => Promise<T>): Promise<T> {
  const handle = await openForBackup(path);
  try {
    let position = 0;
    return await fn(async (buf, offset, length) => {
      const { bytesRead } = await handle.read(buf, offset, length, position);
      position += bytesRead;
      return bytesRead;
    });
  } finally {
    await handle.close();
  }
}

/**
 * Reads a small file in one synchronous go into a buffer of its expected size, and
 * stats the open file after the read (cheaper than another lookup by path) so the
 * caller can tell a file that changed meanwhile. Returns undefined when the file turned
 * out larger (it grew): the caller then streams it. For trees of many small files this
 * avoids three thread-pool round trips per file (open, read, close), which cost more
 * than the reads themselves.
 */
export function readSmallFileSync(path: Buffer, expectedSize: number): { data: Buffer; after: BigIntStats } | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  }
  try {
    // One byte more than expected tells a file that grew from one that did not. A short read
    // is usually the end: the stat after it says so without another read, and a file system
    // that returns short reads mid-file (FUSE, network) gets the rest read.
    const buf = Buffer.allocUnsafe(expectedSize + 1);
    let length = 0;
    let after = fstatSync(fd, { bigint: true });
    while (length < buf.length) {
      const n = readSync(fd, buf, length, buf.length - length, length);
      if (n === 0) break;
      length += n;
      if (length < buf.length) {
        after = fstatSync(fd, { bigint: true });
        if (BigInt(length) >= after.size) break;
      }
    }
    if (length > expectedSize) return undefined;
    return { data: buf.subarray(0, length), after };
  } finally {
    closeSync(fd);
  }
}
