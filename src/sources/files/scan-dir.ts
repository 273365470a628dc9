import { constants as fsc, readlinkSync } from 'node:fs';
import { loadNativeAddon } from '../../core/native-addon.js';
import { systemError } from '../../core/system-error.js';
import type { TreeNode } from '../../repo/tree-node.js';
import { nodeOfSlots, STAT_META, type StatSlots, statSlots } from './stat-node.js';

/** Slots per entry from the native scanDir (SCAN_META in native/bkdr_blob.c): STAT_META's, then the symlink target's errno, offset and length. */
const SCAN_META = STAT_META + 3;
/** Bytes of an entry's digest (ENTRY_DIGEST_BYTES in native/bkdr_blob.c). */
export const ENTRY_DIGEST_BYTES = 16;

/** Names and targets, meta, the digest when stat'ed, then the scan of the directory's lone subdirectory and its entry's index, when the trip made it. */
type NativeScan = [Buffer, Float64Array, Buffer | undefined, NativeScan?, number?];

interface ScanAddon {
  scanDir(path: Buffer, maxStat: number, followLone: boolean): Promise<NativeScan>;
  scanDirs(paths: Buffer[], maxStat: number, followLone: boolean): Promise<(NativeScan | null)[]>;
  entryDigests(data: Buffer, meta: Float64Array, count: number): Buffer;
  matchDigests(entries: Buffer, nodes: Buffer): Int32Array;
}

export interface DirScan {
  /** The entries' names, sorted bytewise (the order trees are stored in). */
  names: Buffer[];
  /** Their paths (the directory's, then the name). */
  paths: Buffer[];
  /** Per entry, what statNodes gives for it: its node, or its error; none above `maxStat` entries. Built when first asked for. */
  readonly nodes: (TreeNode | NodeJS.ErrnoException)[] | undefined;
  /** Entry i's node or error (as `nodes` has it), without building the others'; only when stat'ed. */
  node(i: number): TreeNode | NodeJS.ErrnoException;
  /** Whether the lstat of entry i found a directory; false when not stat'ed or it failed. */
  isDirectory(i: number): boolean;
  /** Whether entry i's node comes from an lstat of its own (a time the scan's slots cannot hold), not the scan's; true when not stat'ed. */
  statedAgain(i: number): boolean;
  /**
   * SHA-256 of the names, symlink targets and every lstat result but the access time, when
   * stat'ed: the same digest means the same listing, entry for entry (the directory cache's test).
   */
  digest: Buffer | undefined;
  /**
   * With the digest, each entry's own, ENTRY_DIGEST_BYTES apiece in the entries' order: of its
   * name, symlink target and lstat result but the access time, and the device number only
   * for a hard-linked file (as trees record them). An entry with the digest it had when a
   * tree was stored is stored as it was there. Made when first asked for: a walk needs them
   * only for directories whose listing changed.
   */
  readonly entryDigests: Buffer | undefined;
  /** Whether a file's node still has the size, mtime, ctime and inode the lstat of entry i gave it (its read saw no change). */
  sameAsScanned(i: number, node: TreeNode): boolean;
  /**
   * With `followLone`: the scan of the directory's only subdirectory (on its own file
   * system), made in the same trip to the pool, with its own lone subdirectory's the same
   * way, a few levels down and not past a .bkdrignore: the walk enters it next, and scanned
   * alone it was a trip of its own.
   */
  readonly lone: { path: Buffer; scan: DirScan } | undefined;
}

/**
 * A directory's listing (as readDirNames lists it: O_NOATIME, sorted bytewise) and, up to
 * `maxStat` entries, what statNodes says of each entry, in one trip to the pool: listing and
 * stat'ing apart took two per directory of an archiver's walk. Rejects as readDirNames does
 * when the listing fails.
 */
export async function scanDir(dir: Buffer, maxStat: number, followLone = false): Promise<DirScan> {
  const scan = scanOf(dir, await loadNativeAddon<ScanAddon>('bkdr_blob').scanDir(dir, maxStat, followLone));
  if (scan instanceof Error) throw scan;
  return scan;
}

/**
 * scanDir of several directories in one trip to the pool: per directory, its scan or the
 * error scanDir rejects with; undefined for those past the trip's budget (8192 entries) or
 * a scan short of memory, to scan alone.
 */
export async function scanDirs(dirs: Buffer[], maxStat: number, followLone = false): Promise<(DirScan | NodeJS.ErrnoException | undefined)[]> {
  const scans = await loadNativeAddon<ScanAddon>('bkdr_blob').scanDirs(dirs, maxStat, followLone);
  return scans.map((scan, i) => (scan ? scanOf(dirs[i]!, scan) : undefined));
}

/** Per digest of `entries` (DirScan.entryDigests), where `nodes` (digests likewise) has the same one, or -1. */
export function matchEntryDigests(entries: Buffer, nodes: Buffer): Int32Array {
  return loadNativeAddon<ScanAddon>('bkdr_blob').matchDigests(entries, nodes);
}

function scanOf(dir: Buffer, [data, meta, digest, lone, loneIndex]: NativeScan): DirScan | NodeJS.ErrnoException {
  if (meta[0]) return systemError(meta[0], 'scandir', dir);
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
  if (meta.length === 2 && count > 0) return new UnstatedScan(names, paths);
  const scan = new StatedScan(names, paths, data, statSlots(meta.subarray(2)), digest);
  // The addon names the entry it followed; taken only if this scan says it is a directory too.
  if (lone && loneIndex !== undefined && scan.isDirectory(loneIndex)) {
    const followed = scanOf(paths[loneIndex]!, lone);
    if (!(followed instanceof Error)) scan.lone = { path: paths[loneIndex]!, scan: followed };
  }
  return scan;
}

/** More entries than `maxStat`: listed only, the caller stats them. */
class UnstatedScan implements DirScan {
  readonly digest = undefined;
  readonly entryDigests = undefined;
  readonly nodes = undefined;
  readonly lone = undefined;
  constructor(
    readonly names: Buffer[],
    readonly paths: Buffer[],
  ) {}

  node(): never {
    throw new Error('scanDir: this listing was not stat’ed');
  }

  isDirectory(): boolean {
    return false;
  }

  statedAgain(): boolean {
    return true;
  }

  sameAsScanned(): boolean {
    return false;
  }
}

class StatedScan implements DirScan {
  readonly #data: Buffer;
  readonly #slots: StatSlots;
  readonly #built: (TreeNode | NodeJS.ErrnoException | undefined)[];
  #entryDigests: Buffer | undefined;
  lone: { path: Buffer; scan: DirScan } | undefined;

  constructor(
    readonly names: Buffer[],
    readonly paths: Buffer[],
    data: Buffer,
    slots: StatSlots,
    readonly digest: Buffer | undefined,
  ) {
    this.#data = data;
    this.#slots = slots;
    this.#built = new Array(names.length);
  }

  get nodes(): (TreeNode | NodeJS.ErrnoException)[] {
    return this.names.map((_, i) => this.node(i));
  }

  get entryDigests(): Buffer | undefined {
    if (!this.digest) return undefined;
    return (this.#entryDigests ??= loadNativeAddon<ScanAddon>('bkdr_blob').entryDigests(this.#data, this.#slots.meta, this.names.length));
  }

  node(i: number): TreeNode | NodeJS.ErrnoException {
    return (this.#built[i] ??= nodeOfSlots(this.paths[i]!, this.names[i]!, this.#slots, i * SCAN_META, this.#readLink));
  }

  isDirectory(i: number): boolean {
    const m = i * SCAN_META;
    return this.#slots.meta[m] === 0 && (this.#slots.meta[m + 1]! & fsc.S_IFMT) === fsc.S_IFDIR;
  }

  statedAgain(i: number): boolean {
    return this.#slots.meta[i * SCAN_META + 14] !== 0;
  }

  sameAsScanned(i: number, node: TreeNode): boolean {
    const { meta, signed, unsigned } = this.#slots;
    const m = i * SCAN_META;
    return meta[m] === 0 && node.size === meta[m + 5] && node.mtimeNs === signed[m + 7] && node.ctimeNs === signed[m + 9] && node.inode === unsigned[m + 11];
  }

  readonly #readLink = (path: Buffer, m: number): Buffer => {
    const { meta } = this.#slots;
    // Not a symlink when scanDir stat'ed it (its stat had to be redone here): read now.
    if ((meta[m + 1]! & fsc.S_IFMT) !== fsc.S_IFLNK) return readlinkSync(path, { encoding: 'buffer' });
    if (meta[m + STAT_META]) throw systemError(meta[m + STAT_META]!, 'readlink', path);
    const offset = meta[m + STAT_META + 1]!;
    return this.#data.subarray(offset, offset + meta[m + STAT_META + 2]!);
  };
}
