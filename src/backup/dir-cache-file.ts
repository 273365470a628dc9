import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../core/ids.js';
import type { Repository } from '../repo/repository.js';
import { ownerNamesDigest } from '../sources/files/user-names.js';
import { PROGRAM_VERSION } from './program-version.js';
import { DirCache, removeStaleSideFiles } from './dir-cache.js';
import type { FanOutRepository } from './fan-out-repository.js';

export type { DirCache } from './dir-cache.js';

/**
 * Raised whenever what the walk records of an unchanged entry changes (which fields a tree
 * holds and how, what the excludes leave out): trees cached before are then not taken, and
 * the next backup compares every directory with its parent, storing them as they are now.
 */
const WALK_VERSION = 1;

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
  if (catalogPath === ':memory:') return undefined;
  const repo = fanOut.primary;
  const file = join(`${catalogPath}.dirs`, `${repo.id}-${sha256Hex(source).slice(0, 16)}`);
  if (fanOut.members.length !== 1 || walk.withAtime) {
    // What a killed run of it kept goes all the same.
    removeStaleSideFiles(file);
    return undefined;
  }
  // The program's version and the walk's: a newer bkdr may record nodes otherwise. The user and capabilities: another
  // lists other extended attributes (trusted.* needs CAP_SYS_ADMIN), and recording those it cannot list is no failure.
  const key = sha256Hex(
    JSON.stringify({ program: PROGRAM_VERSION, walk: WALK_VERSION, ...walk, ownerNames: ownerNamesDigest(), user: process.geteuid?.(), capabilities: await effectiveCapabilities() }),
  );
  return DirCache.open(file, { repository: repo.id, key }, repo.indexFileIds);
}

async function effectiveCapabilities(): Promise<string> {
  try {
    return /^CapEff:\s*(\S+)/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

/** Writes the cache for the next run; a cache that cannot be written costs the next run speed, not this one its backup. */
export async function saveDirCache(cache: DirCache, repo: Repository, log: (level: 'warn', message: string) => void): Promise<void> {
  try {
    await cache.save(repo.indexFileIds);
  } catch (err) {
    log('warn', `directory cache not written (the next backup compares every directory with its parent snapshot): ${(err as Error).message}`);
  }
}
