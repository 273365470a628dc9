import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A name beside `target` that is hidden and never an existing file's. */
const tempBeside = (target: string): string => join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);

/**
 * `data` under a temporary name beside `target` (created, never an existing file's), then
 * renamed over it, after an fsync with `sync`: a reader (PostgreSQL, a browser, a mail job)
 * sees all of it or nothing, and a failure leaves no temporary file behind. `mode` as
 * writeFile's; `data` may come in parts (an iterable), which are written in turn. `temp`: the
 * temporary file's name instead of a hidden one, for a caller that removes the ones a killed
 * process left.
 */
export async function writeFileAtomic(target: string, data: string | Buffer | Iterable<Buffer> | AsyncIterable<Buffer>, opts: { sync?: boolean; mode?: number; temp?: string } = {}): Promise<void> {
  const temp = opts.temp ?? tempBeside(target);
  // Outside the clean-up: a name that exists already is someone else's file, not ours to remove.
  const handle = await open(temp, 'wx', opts.mode ?? 0o666);
  try {
    try {
      await writeFile(handle, data);
      if (opts.sync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** writeFileAtomic without `sync`, for a caller that cannot wait: an exit hook. */
export function writeFileAtomicSync(target: string, data: string | Buffer, opts: { mode?: number } = {}): void {
  const temp = tempBeside(target);
  try {
    writeFileSync(temp, data, { flag: 'wx', mode: opts.mode ?? 0o666 });
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
