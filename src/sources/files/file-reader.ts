import { type BigIntStats, constants as fsc } from 'node:fs';
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
 * zeros), into buffers the caller owns, and the file's stat as opened; the file is closed
 * when `fn` settles.
 */
export async function withFileReader<T>(path: Buffer, fn: (read: (buf: Buffer, offset: number, length: number) => Promise<number>, opened: BigIntStats) => Promise<T>): Promise<T> {
  const handle = await openForBackup(path);
  try {
    let position = 0;
    const read = async (buf: Buffer, offset: number, length: number) => {
      const { bytesRead } = await handle.read(buf, offset, length, position);
      position += bytesRead;
      return bytesRead;
    };
    return await fn(read, await handle.stat({ bigint: true }));
  } finally {
    await handle.close();
  }
}
