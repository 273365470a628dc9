import { lstat } from 'node:fs/promises';
import type { OwnFiles } from './own-files.js';

export interface SourcePaths {
  /** Paths that are there to back up. */
  present: string[];
  /** Paths that cannot be reached, with why in the operator's words. */
  missing: { path: string; problem: string }[];
  /** Configured paths that are bkdr's own repository or catalog, or inside one. */
  own: string[];
}

/**
 * Looks at a files source's configured paths before anything is written. A path that
 * is gone is most often a disk that did not mount: backed up as nothing, it would
 * become a newest backup that retention counts while forgetting the real ones.
 */
export async function checkSourcePaths(paths: readonly string[], own: OwnFiles): Promise<SourcePaths> {
  const out: SourcePaths = { present: [], missing: [], own: [] };
  for (const path of paths) {
    if (own.contains(path)) {
      out.own.push(path);
      continue;
    }
    try {
      await lstat(path);
      out.present.push(path);
    } catch (err) {
      out.missing.push({ path, problem: describeMissing(err as NodeJS.ErrnoException) });
    }
  }
  return out;
}

function describeMissing(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'does not exist (a disk that is not mounted?)';
    case 'ENOTDIR':
      return 'does not exist (a folder above it is a file)';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read: permission denied';
    default:
      return `cannot be read: ${err.code ?? err.message}`;
  }
}
