import { constants as fsc, readlinkSync } from 'node:fs';
import { loadNativeAddon } from '../../core/native-addon.js';
import { systemError } from '../../core/system-error.js';
import type { TreeNode } from '../../repo/tree-node.js';
import { nodeOfSlots, STAT_META, statSlots } from './stat-node.js';

/** Slots per entry from the native scanDir (SCAN_META in native/bkdr_blob.c): STAT_META's, then the symlink target's errno, offset and length. */
const SCAN_META = STAT_META + 3;

interface ScanAddon {
  scanDir(path: Buffer, maxStat: number): Promise<[Buffer, Float64Array]>;
}

export interface DirScan {
  /** The entries' names, sorted bytewise (the order trees are stored in). */
  names: Buffer[];
  /** Their paths (the directory's, then the name). */
  paths: Buffer[];
  /** Per entry, what statNodes gives for it: its node, or its error; none above `maxStat` entries. */
  nodes: (TreeNode | NodeJS.ErrnoException)[] | undefined;
}

/**
 * A directory's listing (as readDirNames lists it: O_NOATIME, sorted bytewise) and, up to
 * `maxStat` entries, what statNodes says of each entry, in one trip to the pool: listing and
 * stat'ing apart took two per directory of an archiver's walk. Rejects as readDirNames does
 * when the listing fails.
 */
export async function scanDir(dir: Buffer, maxStat: number): Promise<DirScan> {
  const [data, meta] = await loadNativeAddon<ScanAddon>('bkdr_blob').scanDir(dir, maxStat);
  if (meta[0]) throw systemError(meta[0], 'scandir', dir);
  const count = meta[1]!;
  const names: Buffer[] = new Array(count);
  const paths: Buffer[] = new Array(count);
  // Every path in one allocation: the directory's bytes and a slash, then the name.
  const prefix = dir.length === 1 && dir[0] === 0x2f ? 1 : dir.length + 1;
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = data.indexOf(0, start);
    names[i] = data.subarray(start, end);
    start = end + 1;
  }
  const all = Buffer.allocUnsafe(count * prefix + start - count);
  for (let i = 0, at = 0; i < count; i++) {
    dir.copy(all, at, 0, prefix - 1);
    all[at + prefix - 1] = 0x2f;
    const end = at + prefix + names[i]!.copy(all, at + prefix);
    paths[i] = all.subarray(at, end);
    at = end;
  }
  if (meta.length === 2) return { names, paths, nodes: count === 0 ? [] : undefined };
  const slots = statSlots(meta.subarray(2));
  const readLink = (path: Buffer, m: number) => {
    // Not a symlink when scanDir stat'ed it (its stat had to be redone here): read now.
    if ((slots.meta[m + 1]! & fsc.S_IFMT) !== fsc.S_IFLNK) return readlinkSync(path, { encoding: 'buffer' });
    if (slots.meta[m + STAT_META]) throw systemError(slots.meta[m + STAT_META]!, 'readlink', path);
    const offset = slots.meta[m + STAT_META + 1]!;
    return data.subarray(offset, offset + slots.meta[m + STAT_META + 2]!);
  };
  const nodes = paths.map((path, i) => nodeOfSlots(path, names[i]!, slots, i * SCAN_META, readLink));
  return { names, paths, nodes };
}
