import { join } from 'node:path';
import { sha256Hex } from '../core/ids.js';
import type { Repository } from '../repo/repository.js';
import { ownerNamesDigest } from '../sources/files/user-names.js';
import { DirCache } from './dir-cache.js';
import type { FanOutRepository } from './fan-out-repository.js';

export type { DirCache } from './dir-cache.js';

/** What of a files source's configuration decides the trees its walk stores. */
export interface WalkSettings {
  paths: string[];
  exclude: string[];
  /** bkdr's own files, left out wherever they are. */
  own: readonly string[];
  oneFileSystem: boolean;
  withAtime: boolean;
}

/**
 * The directory cache of `source` for the walk into `fanOut`: beside the catalog
 * (`<catalog>.dirs/`, which own-files leaves out of every source), one file per
 * repository and source. None for an in-memory catalog; none when the walk writes to
 * several repositories at once (a member added later lacks blobs the others have) or
 * records access times (every read moves them).
 */
export async function openDirCache(catalogPath: string, source: string, fanOut: FanOutRepository, walk: WalkSettings): Promise<DirCache | undefined> {
  if (catalogPath === ':memory:' || fanOut.members.length !== 1 || walk.withAtime) return undefined;
  const repo = fanOut.primary;
  const file = join(`${catalogPath}.dirs`, `${repo.id}-${sha256Hex(source).slice(0, 16)}`);
  const key = sha256Hex(JSON.stringify({ version: 1, ...walk, ownerNames: ownerNamesDigest() }));
  return DirCache.open(file, { repository: repo.id, key }, repo.indexFileIds);
}

/** Writes the cache for the next run; a cache that cannot be written costs the next run speed, not this one its backup. */
export async function saveDirCache(cache: DirCache, repo: Repository, log: (level: 'warn', message: string) => void): Promise<void> {
  try {
    await cache.save(repo.indexFileIds);
  } catch (err) {
    log('warn', `directory cache not written (the next backup compares every directory with its parent snapshot): ${(err as Error).message}`);
  }
}
