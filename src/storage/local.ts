import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeNewFileDurably } from './direct-io.js';
import { type ByteRange, type ObjectInfo, ObjectNotFoundError, type PutOptions, type StorageAdapter } from './adapter.js';

const TEMP_PREFIX = '.tmp-';
/**
 * A range up to this size (a restore's span of a pack) is read in one call into one
 * buffer: streamed in 1 MiB pieces, its bytes were copied once more to be joined.
 */
const WHOLE_RANGE_UP_TO = 64 * 1024 * 1024;

/** Reads the range, or what of it the file holds, and closes the handle. */
async function readRange(handle: FileHandle, range: ByteRange): Promise<Buffer> {
  try {
    const buffer = range.into ?? Buffer.allocUnsafe(range.length);
    let got = 0;
    while (got < range.length) {
      const { bytesRead } = await handle.read(buffer, got, range.length - got, range.offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buffer.subarray(0, got);
  } finally {
    await handle.close();
  }
}

/**
 * A destination on a local or mounted file system. Writes are atomic: a temp file in
 * the same directory, fsync, rename, fsync of the directory, so after a crash an
 * object is either absent or complete.
 */
export function createLocalAdapter(opts: { name: string; path: string }): StorageAdapter {
  const root = opts.path;
  const full = (key: string) => {
    if (key.split('/').some((p) => p === '..' || p === '')) throw new Error(`invalid key '${key}'`);
    return join(root, ...key.split('/'));
  };
  const notFound = (key: string, err: unknown): never => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(opts.name, key);
    throw err;
  };

  return {
    name: opts.name,
    kind: 'local',

    async put(key: string, body: Buffer | Readable, _opts?: PutOptions): Promise<void> {
      const target = full(key);
      const dir = dirname(target);
      await mkdir(dir, { recursive: true });
      const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
      try {
        if (Buffer.isBuffer(body)) {
          await writeNewFileDurably(temp, body);
        } else {
          await pipeline(body, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
          const handle = await open(temp, 'r');
          await handle.sync().finally(() => handle.close());
        }
        await rename(temp, target);
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw err;
      }
      const handle = await open(dir, 'r');
      await handle
        .sync()
        .catch(() => undefined)
        .finally(() => handle.close());
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      const path = full(key);
      // Open first so a missing object fails here, typed, not later inside the stream.
      const handle = await open(path, 'r').catch((err: unknown) => notFound(key, err));
      if (range && range.length > 0 && range.length <= WHOLE_RANGE_UP_TO) return Readable.from([await readRange(handle, range)]);
      const stream = createReadStream('', {
        fd: handle,
        ...(range ? { start: range.offset, end: range.offset + range.length - 1 } : {}),
        highWaterMark: 1024 * 1024,
      });
      return range && range.length === 0 ? Readable.from([]) : stream;
    },

    async stat(key: string): Promise<ObjectInfo | undefined> {
      try {
        const st = await stat(full(key));
        return st.isFile() ? { key, size: st.size, modified: st.mtime } : undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },

    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      const parts = prefix.split('/');
      const dirPart = parts.slice(0, -1).join('/');
      const start = dirPart ? join(root, ...dirPart.split('/')) : root;
      const walk = async function* (dir: string): AsyncGenerator<ObjectInfo> {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw err;
        }
        for (const entry of entries) {
          if (entry.name.startsWith(TEMP_PREFIX)) continue;
          const path = join(dir, entry.name);
          const key = relative(root, path).split(sep).join('/');
          if (entry.isDirectory()) {
            if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* walk(path);
          } else if (entry.isFile() && key.startsWith(prefix)) {
            const st = await stat(path).catch(() => undefined);
            if (st) yield { key, size: st.size, modified: st.mtime };
          }
        }
      };
      yield* walk(start);
    },

    async delete(key: string): Promise<void> {
      await rm(full(key), { force: true });
    },
  };
}
