import { resolve } from 'node:path';
import { catalogFiles } from '../catalog/catalog.js';
import type { BkdrConfig } from '../config/schema.js';
import type { OwnPaths } from '../sources/files/exclude.js';

/**
 * What bkdr itself keeps on this host: local repositories (with their locks), the
 * catalog with SQLite's side files, its audit anchor and catalogs kept aside. A source
 * path above any of them (`bkdr init --yes` in a project folder puts `.bkdr/` inside the
 * source) must never back them up: each run would store the previous run's packs again
 * and a live database file mid-write.
 */
export interface OwnFiles extends OwnPaths {
  /** The absolute paths, for messages and for the file watcher's ignore list. */
  readonly paths: readonly string[];
  /** Whether `path` (absolute) is one of them or lies inside one. */
  contains(path: string): boolean;
  /**
   * The same for a path in the latin1 form ExcludeRules already decodes every walked entry
   * to (one char per byte): asked for each entry, it spares a second decode of each name.
   */
  containsLatin1(path: string): boolean;
  /** Whether one of them is `dir` (latin1), lies inside it or holds it (ExcludeRules.mayExcludeIn). */
  withinLatin1(dir: string): boolean;
}

export function ownFilesOf(config: BkdrConfig, configDir: string, catalogPath: string): OwnFiles {
  const trees = config.destinations.filter((d) => d.type === 'local').map((d) => trimSlash(resolve(configDir, (d.config as { path: string }).path)));
  const files = catalogPath === ':memory:' ? [] : catalogFiles(catalogPath);
  const latin1 = (s: string) => Buffer.from(s).toString('latin1');
  return {
    paths: [...trees, ...files],
    contains: matcher(trees, files, catalogPath),
    containsLatin1: matcher(trees.map(latin1), files.map(latin1), latin1(catalogPath)),
    withinLatin1: overlaps(trees.map(latin1), files.map(latin1), latin1(catalogPath)),
  };
}

/**
 * Whether a directory may hold one of what matcher matches, or lie inside one: a tree, a
 * file, or a directory named like a sibling of the catalog (`<catalog>.*`, which matcher
 * takes whatever lies below it). The catalog's folder holds its siblings.
 */
function overlaps(trees: readonly string[], files: readonly string[], catalogPath: string): (dir: string) => boolean {
  const paths = [...trees, ...files];
  const insides = paths.map(insideOf);
  const catalogSiblings = `${catalogPath}.`;
  return (dir) => {
    const d = trimSlash(dir);
    if (files.length > 0 && d.startsWith(catalogSiblings)) return true;
    const inside = insideOf(d);
    return paths.some((p, i) => p === d || p.startsWith(inside) || d.startsWith(insides[i]!));
  };
}

function matcher(trees: readonly string[], files: readonly string[], catalogPath: string): (path: string) => boolean {
  const exact = new Set(files);
  const catalogSiblings = `${catalogPath}.`;
  const insideTrees = trees.map(insideOf);
  return (path) => {
    const p = trimSlash(path);
    // Besides the files catalogFiles names, `<catalog>.*`: catalogs kept aside (`.damaged-<time>`) and the
    // audit anchor's temporary copy while it is written, which a watched source would see as a change.
    if (exact.has(p) || (files.length > 0 && p.startsWith(catalogSiblings))) return true;
    return trees.some((t, i) => p === t || p.startsWith(insideTrees[i]!));
  };
}

/** What every path inside `dir` starts with. */
function insideOf(dir: string): string {
  return dir === '/' ? '/' : `${dir}/`;
}

/** Asked once per entry of every walked directory: the regular expression only for the rare path that needs it. */
function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') : path;
}
