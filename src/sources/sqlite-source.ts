import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { OperationError } from '../core/errors.js';
import type { StreamCapture, StreamSource } from './stream-source.js';

/**
 * A SQLite database through SQLite's online backup API (better-sqlite3's `backup`):
 * a consistent copy even while other processes write, without locking them out for
 * long. The copy goes to a private temporary file first (the API writes files, not
 * streams), which is removed once it has been read.
 */
export function sqliteSource(path: string): StreamSource {
  return {
    async capture(): Promise<StreamCapture> {
      try {
        await stat(path);
      } catch (err) {
        throw new OperationError(`sqlite database ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
      }
      const dir = await mkdtemp(join(tmpdir(), 'bkdr-sqlite-'));
      const copy = join(dir, 'copy.db');
      const db = new Database(path, { readonly: true, fileMustExist: true });
      let pages = 0;
      try {
        await db.backup(copy, {
          progress: ({ totalPages }) => {
            pages = totalPages;
            // One step: SQLite restarts a stepwise backup whenever another connection commits, so under
            // steady writes it would never end. In WAL mode a single step does not block writers.
            return 0x7fffffff;
          },
        });
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw new OperationError(`sqlite database ${path}: online backup failed: ${(err as Error).message}`, { cause: err });
      } finally {
        db.close();
      }
      const stream = createReadStream(copy, { highWaterMark: 1024 * 1024 });
      const finished = new Promise<void>((resolve, reject) => {
        stream.on('close', () => void rm(dir, { recursive: true, force: true }).then(() => resolve(), reject));
        stream.on('error', reject);
      });
      finished.catch(() => undefined);
      return { name: basename(path), describe: `sqlite:${path}`, stream, finished, meta: () => ({ pages }) };
    },
  };
}
