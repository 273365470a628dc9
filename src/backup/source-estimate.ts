import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ExcludeRules, type OwnPaths } from '../sources/files/exclude.js';

/**
 * A quick stat-only walk that totals a files source, so progress can show an ETA.
 * It runs beside the backup and may differ slightly from what the backup reads
 * (.bkdrignore files are not applied, files change meanwhile); it is an estimate.
 */
export async function estimateFilesSource(paths: string[], exclude: string[], signal?: AbortSignal, own?: OwnPaths): Promise<{ files: number; bytes: number }> {
  const rules = ExcludeRules.fromConfig(paths, exclude, own);
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

/**
 * Starts the estimate only when the backup has run for a while: it is a second walk of
 * the tree, and a backup done in a second or two (most incrementals) has no use for an
 * ETA, which is printed after a few seconds anyway. `stop` ends it early.
 */
export function estimateFilesSourceLater(
  paths: string[],
  exclude: string[],
  onEstimate: (e: { files: number; bytes: number }) => void,
  signal?: AbortSignal,
  afterMs = 1000,
  own?: OwnPaths,
): { stop(): void } {
  const stopped = new AbortController();
  const timer = setTimeout(() => {
    const both = signal ? AbortSignal.any([signal, stopped.signal]) : stopped.signal;
    void estimateFilesSource(paths, exclude, both, own).then(
      (e) => {
        if (!both.aborted) onEstimate(e);
      },
      () => undefined,
    );
  }, afterMs);
  timer.unref();
  return {
    stop: () => {
      clearTimeout(timer);
      stopped.abort();
    },
  };
}
