import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readCached } from './cached-read.js';
import { AppendedFile, writeNewFileDurably } from './direct-io.js';
import { type ByteRange, bytesReadable, type ObjectInfo, ObjectNotFoundError, type PutOptions, type StorageAdapter, type StreamedObject } from './adapter.js';

const TEMP_PREFIX = '.tmp-';
/**
 * A range up to this size (a restore's span of a pack), or an object read whole, is read in
 * one call into one buffer: streamed in 1 MiB pieces, its bytes were copied once more to be joined.
 */
const WHOLE_RANGE_UP_TO = 64 * 1024 * 1024;

/**
 * Ranges up to this size are first read from the page cache on the calling thread
 * (readCached). An incremental backup of the bench's real tree reads about 1,100 parent
 * trees of a few KiB, one at a time; each trip to the pool cost the walk's thread more
 * than the read.
 */
const CACHED_READ_UP_TO = 256 * 1024;

/** Reads the range, or what of it the file holds. */
async function readRange(handle: FileHandle, range: ByteRange): Promise<Buffer> {
  const buffer = range.into ?? Buffer.allocUnsafe(range.length);
  let got = 0;
  if (range.length <= CACHED_READ_UP_TO) got = Math.max(0, readCached(handle.fd, buffer, 0, range.length, range.offset));
  while (got < range.length) {
    const { bytesRead } = await handle.read(buffer, got, range.length - got, range.offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buffer.subarray(0, got);
}

/**
 * All of the object open at `handle`, as a range to read in one go, when it is a file of at
 * most WHOLE_RANGE_UP_TO bytes; else undefined, to be streamed (a directory at the key then
 * fails in the stream's read). A stream read each object (a key, a lock, a snapshot, an
 * index file) into fresh Buffers of 1 MiB, two for an object of a few hundred bytes: 14 MiB
 * of garbage in an incremental backup that read 2 MiB. Closes the handle if fstat fails.
 */
async function wholeFile(handle: FileHandle): Promise<ByteRange | undefined> {
  const st = await handle.stat().catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  return st.isFile() && st.size <= WHOLE_RANGE_UP_TO ? { offset: 0, length: st.size } : undefined;
}

/** Pack files kept open for reading at most, the least recently used closed first. */
const OPEN_PACKS = 32;

/**
 * Read handles of pack files (`data/`), kept open between reads: a pack is written once
 * under its content's name and never changed, so a handle stays right for as long as the
 * file is read. An incremental backup reads its parent's trees a few at a time from the
 * same packs; opening and closing the pack for each read was a sixth of a no-op backup of
 * a package tree. Anything else (locks, index files, snapshots) is opened for each read.
 */
class PackHandles {
  readonly #open = new Map<string, Promise<FileHandle>>();

  /** A handle for `path`, opened now or reused; rejects (and keeps nothing) when it cannot be opened. */
  get(path: string): Promise<FileHandle> {
    const held = this.#open.get(path);
    if (held) {
      // Most recently used last: a Map iterates in insertion order.
      this.#open.delete(path);
      this.#open.set(path, held);
      return held;
    }
    const opening = open(path, 'r');
    this.#open.set(path, opening);
    opening.catch(() => this.#open.get(path) === opening && this.#open.delete(path));
    if (this.#open.size > OPEN_PACKS) {
      const [oldest, handle] = this.#open.entries().next().value as [string, Promise<FileHandle>];
      this.#open.delete(oldest);
      // FileHandle.close waits for the reads under way on it, so a read still using the evicted handle completes.
      void handle.then((h) => h.close()).catch(() => undefined);
    }
    return opening;
  }

  /** A deleted pack's handle goes at once: an open handle would keep its space allocated until the repository closes. */
  async forget(path: string): Promise<void> {
    const held = this.#open.get(path);
    this.#open.delete(path);
    await held?.then((h) => h.close()).catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    const handles = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(handles.map((h) => h.then((x) => x.close()).catch(() => undefined)));
  }
}

/** Makes a rename or a new file in `dir` durable; a file system that cannot sync a directory is not an error. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  await handle
    .sync()
    .catch(() => undefined)
    .finally(() => handle.close());
}

/**
 * An object written in parts (AppendedFile) to a hidden temporary file in `dirPath`, made
 * with its first part when missing, then renamed to its key as put renames a whole one.
 */
function streamedObject(dirPath: string, full: (key: string) => string): StreamedObject {
  const temp = join(dirPath, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  const file = AppendedFile.create(temp);
  let made: Promise<unknown> | undefined;
  const ready = () => (made ??= mkdir(dirPath, { recursive: true }));
  return {
    async append(data: Buffer): Promise<number> {
      await ready();
      return file.append(data);
    },
    async finish(tail: Buffer): Promise<{ sha256: string; size: number }> {
      await ready();
      return file.finish(tail);
    },
    async commit(key: string): Promise<void> {
      const target = full(key);
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
      await syncDirectory(dirname(target));
    },
    async abort(): Promise<void> {
      file.close();
      await unlink(temp).catch(() => undefined);
    },
  };
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

  const packs = new PackHandles();

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
      await syncDirectory(dir);
    },

    createStreamed(dir: string): StreamedObject {
      return streamedObject(full(dir), full);
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      const path = full(key);
      const whole = range !== undefined && range.length > 0 && range.length <= WHOLE_RANGE_UP_TO;
      if (whole && key.startsWith('data/')) {
        const handle = await packs.get(path).catch((err: unknown) => notFound(key, err));
        return bytesReadable(await readRange(handle, range));
      }
      // Open first so a missing object fails here, typed, not later inside the stream.
      const handle = await open(path, 'r').catch((err: unknown) => notFound(key, err));
      const inOneRead = whole ? range : range ? undefined : await wholeFile(handle);
      if (inOneRead) return bytesReadable(await readRange(handle, inOneRead).finally(() => handle.close()));
      if (range && range.length === 0) {
        // Nothing to read: a stream made over the handle and never read would keep it open until garbage collection.
        await handle.close();
        return Readable.from([]);
      }
      return createReadStream('', {
        fd: handle,
        ...(range ? { start: range.offset, end: range.offset + range.length - 1 } : {}),
        highWaterMark: 1024 * 1024,
      });
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
      const path = full(key);
      await packs.forget(path);
      await rm(path, { force: true });
    },

    close(): Promise<void> {
      return packs.closeAll();
    },
  };
}
