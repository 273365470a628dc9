import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ExcludeRules } from '../sources/files/exclude.js';

/**
 * A quick stat-only walk that totals a files source, so progress can show an ETA.
 * It runs beside the backup and may differ slightly from what the backup reads
 * (.bkdrignore files are not applied, files change meanwhile); it is an estimate.
 */
export async function estimateFilesSource(paths: string[], exclude: string[], signal?: AbortSignal): Promise<{ files: number; bytes: number }> {
  const rules = ExcludeRules.fromConfig(paths, exclude);
  const total = { files: 0, bytes: 0 };
  const visit = async (path: string): Promise<void> => {
    if (signal?.aborted) return;
    const st = await lstat(path).catch(() => undefined);
    if (!st || rules.excludes(Buffer.from(path), st.isDirectory())) return;
    if (st.isDirectory()) {
      const names = await readdir(path).catch(() => [] as string[]);
      for (const name of names) await visit(join(path, name));
    } else {
      total.files++;
      if (st.isFile()) total.bytes += st.size;
    }
  };
  for (const p of paths) await visit(p);
  return total;
}
