import { closeSync, constants as fsc, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { seekData, seekHole } from './native.js';

export type FileSegment = { offset: number; data: Buffer } | { offset: number; hole: number };

const DEFAULT_BUFFER = 8 * 1024 * 1024;

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
 * Reads a file in large sequential pieces. Each yielded Buffer is fresh, so the
 * consumer may keep it. With `sparse`, holes are reported instead of read as zeros.
 */
export async function* readFileSegments(path: Buffer, opts: { sparse: boolean; bufferSize?: number }): AsyncGenerator<FileSegment> {
  const size = opts.bufferSize ?? DEFAULT_BUFFER;
  const handle = await openForBackup(path);
  try {
    let offset = 0;
    while (true) {
      if (opts.sparse) {
        const data = seekData(handle.fd, offset);
        const end = (await handle.stat()).size;
        if (data < 0 || data >= end) {
          if (end > offset) yield { offset, hole: end - offset };
          return;
        }
        if (data > offset) {
          yield { offset, hole: data - offset };
          offset = data;
        }
        const holeAt = seekHole(handle.fd, offset);
        const runEnd = holeAt < 0 ? end : holeAt;
        while (offset < runEnd) {
          const buf = Buffer.allocUnsafe(Math.min(size, runEnd - offset));
          const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
          if (bytesRead === 0) return;
          yield { offset, data: bytesRead === buf.length ? buf : buf.subarray(0, bytesRead) };
          offset += bytesRead;
        }
        continue;
      }
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await handle.read(buf, 0, size, offset);
      if (bytesRead === 0) return;
      yield { offset, data: bytesRead === size ? buf : buf.subarray(0, bytesRead) };
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Reads a small file in one synchronous go into a buffer of its expected size.
 * Returns undefined when the file turned out larger (it grew): the caller then
 * streams it. For trees of many small files this avoids three thread-pool round
 * trips per file (open, read, close), which cost more than the reads themselves.
 */
export function readSmallFileSync(path: Buffer, expectedSize: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  }
  try {
    // One byte more than expected tells a file that grew from one that did not.
    const buf = Buffer.allocUnsafe(expectedSize + 1);
    let length = 0;
    while (length < buf.length) {
      const n = readSync(fd, buf, length, buf.length - length, length);
      if (n === 0) break;
      length += n;
    }
    return length > expectedSize ? undefined : buf.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}
