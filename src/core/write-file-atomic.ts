import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * `data` under a temporary name beside `target` (hidden, never an existing file), then renamed
 * over it, after an fsync with `sync`: a reader (PostgreSQL, a browser, a mail job) sees all of
 * it or nothing, and a failure leaves no temporary file behind. `mode` as writeFile's.
 */
export async function writeFileAtomic(target: string, data: string | Buffer, opts: { sync?: boolean; mode?: number } = {}): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', opts.mode ?? 0o666);
    try {
      await handle.writeFile(data);
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
