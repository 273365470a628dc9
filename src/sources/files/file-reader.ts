import { constants as fsc } from 'node:fs';
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
