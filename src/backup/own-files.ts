import { resolve } from 'node:path';
import { catalogFiles } from '../catalog/catalog.js';
import type { BkdrConfig } from '../config/schema.js';

/**
 * What bkdr itself keeps on this host: local repositories (with their locks), the
 * catalog with SQLite's side files, its audit anchor and catalogs kept aside. A source
 * path above any of them (`bkdr init --yes` in a project folder puts `.bkdr/` inside the
 * source) must never back them up: each run would store the previous run's packs again
 * and a live database file mid-write.
 */
export interface OwnFiles {
  /** The absolute paths, for messages and for the file watcher's ignore list. */
  readonly paths: readonly string[];
  /** Whether `path` (absolute) is one of them or lies inside one. */
  contains(path: string): boolean;
}

export function ownFilesOf(config: BkdrConfig, configDir: string, catalogPath: string): OwnFiles {
  const trees = config.destinations.filter((d) => d.type === 'local').map((d) => trimSlash(resolve(configDir, (d.config as { path: string }).path)));
  const files = catalogPath === ':memory:' ? [] : catalogFiles(catalogPath);
  const exact = new Set(files);
  const catalogSiblings = `${catalogPath}.`;
  const insideTrees = trees.map((t) => (t === '/' ? '/' : `${t}/`));
  return {
    paths: [...trees, ...files],
    contains: (path) => {
      const p = trimSlash(path);
      // Besides the files catalogFiles names, `<catalog>.*`: catalogs kept aside (`.damaged-<time>`) and the
      // audit anchor's temporary copy while it is written, which a watched source would see as a change.
      if (exact.has(p) || (files.length > 0 && p.startsWith(catalogSiblings))) return true;
      return trees.some((t, i) => p === t || p.startsWith(insideTrees[i]!));
    },
  };
}

/** Asked once per entry of every walked directory: the regular expression only for the rare path that needs it. */
function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') : path;
}
