import { type BigIntStats, constants as fsc, lstatSync, readlinkSync } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { loadNativeAddon } from '../../core/native-addon.js';
import { systemError } from '../../core/system-error.js';
import type { NodeType, TreeNode } from '../../repo/tree-node.js';
import { getXattr, listXattrs } from './native.js';
import { groupName, userName } from './user-names.js';

/** The node type of an lstat result. */
export function nodeType(st: Pick<BigIntStats, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isCharacterDevice' | 'isBlockDevice'>): NodeType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  return 'socket';
}

/** Everything the snapshot records about one path, without following a symlink. */
export async function statNode(path: Buffer, name: Buffer, opts: { xattrs?: boolean } = {}): Promise<TreeNode> {
  const st = await lstat(path, { bigint: true });
  return nodeFromStats(path, name, st, opts);
}

/** Slots per path from the native statMany (STAT_META in native/bkdr_blob.c). */
export const STAT_META = 15;

interface StatAddon {
  statMany(paths: Buffer[]): Promise<[Buffer, Float64Array]>;
}

/**
 * statNode for many paths (the archiver's walk, a directory at a time): the lstat and the
 * check for extended attributes of all of them in one trip to the pool. One by one on the
 * JavaScript thread, they were a third of its time in a backup of unchanged files. Per
 * path: its node, or the lstat's error.
 */
export async function statNodes(paths: Buffer[], names: Buffer[]): Promise<(TreeNode | NodeJS.ErrnoException)[]> {
  const [, meta] = await loadNativeAddon<StatAddon>('bkdr_blob').statMany(paths);
  const slots = statSlots(meta);
  return paths.map((path, i) => nodeOfSlots(path, names[i]!, slots, i * STAT_META, readLinkNow));
}

function readLinkNow(path: Buffer): Buffer {
  return readlinkSync(path, { encoding: 'buffer' });
}

/** The native stat results (STAT_META slots per entry) and the same bytes as 64-bit integers. */
export interface StatSlots {
  meta: Float64Array;
  signed: BigInt64Array;
  unsigned: BigUint64Array;
}

export function statSlots(meta: Float64Array): StatSlots {
  return { meta, signed: new BigInt64Array(meta.buffer, meta.byteOffset, meta.length), unsigned: new BigUint64Array(meta.buffer, meta.byteOffset, meta.length) };
}

/**
 * The node of one entry from its STAT_META slots at `m`, or the lstat's error; `readLink` gives
 * a symlink's target (or throws that read's error).
 */
export function nodeOfSlots(path: Buffer, name: Buffer, slots: StatSlots, m: number, readLink: (path: Buffer, m: number) => Buffer): TreeNode | NodeJS.ErrnoException {
  const { meta, signed, unsigned } = slots;
  if (meta[m] !== 0) return systemError(meta[m]!, 'lstat', path);
  let node: TreeNode;
  if (meta[m + 14] === 0) node = packedNode(name, meta, signed, unsigned, m);
  else {
    // A time that does not fit int64 ns (before 1677, after 2262): stat'ed here, with BigInts throughout.
    try {
      node = baseNode(name, lstatSync(path, { bigint: true }));
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  }
  if (node.type === 'symlink') {
    // Gone or replaced since its lstat (an editor's lock link): that entry's error, not the walk's.
    try {
      node.linkTarget = readLink(path, m);
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  }
  // Only where there are any (or the listing failed, to be told apart there): most files have none.
  return meta[m + 13] === 0 || node.type === 'socket' ? node : withXattrs(path, node, {});
}

const TYPE_OF_FORMAT = new Map<number, NodeType>([
  [fsc.S_IFREG, 'file'],
  [fsc.S_IFDIR, 'dir'],
  [fsc.S_IFLNK, 'symlink'],
  [fsc.S_IFIFO, 'fifo'],
  [fsc.S_IFCHR, 'chardev'],
  [fsc.S_IFBLK, 'blockdev'],
]);

/** baseNode from statMany's slots at `m`: the same node, without a BigIntStats and the BigInts it takes to build one. */
function packedNode(name: Buffer, meta: Float64Array, signed: BigInt64Array, unsigned: BigUint64Array, m: number): TreeNode {
  const mode = meta[m + 1]!;
  const type = TYPE_OF_FORMAT.get(mode & fsc.S_IFMT) ?? 'socket';
  const uid = meta[m + 2]!;
  const gid = meta[m + 3]!;
  const node: TreeNode = {
    name,
    type,
    mode: mode & 0o7777,
    uid,
    gid,
    mtimeNs: signed[m + 7]!,
    atimeNs: signed[m + 8]!,
    ctimeNs: signed[m + 9]!,
    dev: unsigned[m + 10]!,
    inode: unsigned[m + 11]!,
    nlink: meta[m + 4]!,
  };
  withOwnerNames(node, uid, gid);
  if (type === 'file') {
    const size = meta[m + 5]!;
    node.size = size;
    if (size > 0 && meta[m + 6]! * 512 < size) node.sparse = true;
  } else if (type === 'chardev' || type === 'blockdev') {
    node.rdev = unsigned[m + 12]!;
  }
  return node;
}

export async function nodeFromStats(path: Buffer, name: Buffer, st: BigIntStats, opts: { xattrs?: boolean } = {}): Promise<TreeNode> {
  const node = baseNode(name, st);
  if (node.type === 'symlink') node.linkTarget = await readlink(path, { encoding: 'buffer' });
  return withXattrs(path, node, opts);
}

/** What a newer stat of the same entry says, into `node`; what no stat sets (content, subtree) stays. */
export function takeStats(node: TreeNode, fresh: TreeNode): void {
  for (const key of OPTIONAL_STAT_FIELDS) delete node[key];
  Object.assign(node, fresh);
}

/** The fields of a TreeNode that a stat sets only for some entries. */
const OPTIONAL_STAT_FIELDS = ['user', 'group', 'size', 'sparse', 'linkTarget', 'rdev', 'xattrs'] as const satisfies readonly (keyof TreeNode)[];

function baseNode(name: Buffer, st: BigIntStats): TreeNode {
  const type = nodeType(st);
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const node: TreeNode = {
    name,
    type,
    mode: Number(st.mode & 0o7777n),
    uid,
    gid,
    mtimeNs: st.mtimeNs,
    atimeNs: st.atimeNs,
    ctimeNs: st.ctimeNs,
    dev: st.dev,
    inode: st.ino,
    nlink: Number(st.nlink),
  };
  withOwnerNames(node, uid, gid);
  if (type === 'file') {
    node.size = Number(st.size);
    if (st.size > 0n && st.blocks * 512n < st.size) node.sparse = true;
  } else if (type === 'chardev' || type === 'blockdev') {
    node.rdev = st.rdev;
  }
  return node;
}

function withOwnerNames(node: TreeNode, uid: number, gid: number): void {
  const user = userName(uid);
  const group = groupName(gid);
  if (user !== undefined) node.user = user;
  if (group !== undefined) node.group = group;
}

/** Nodes whose extended attributes could not all be read: what another run (or user) records may differ. */
const partialXattrs = new WeakSet<TreeNode>();

/** Whether some of the node's extended attributes could not be read (they are left out of it). */
export function xattrsPartly(node: TreeNode): boolean {
  return partialXattrs.has(node);
}

function withXattrs(path: Buffer, node: TreeNode, opts: { xattrs?: boolean }): TreeNode {
  if (opts.xattrs !== false && node.type !== 'socket') {
    const read = readXattrs(path);
    if (read.xattrs) node.xattrs = read.xattrs;
    if (read.partly) partialXattrs.add(node);
  }
  return node;
}

function readXattrs(path: Buffer): { xattrs?: Record<string, Buffer>; partly: boolean } {
  let names: string[];
  try {
    names = listXattrs(path);
  } catch {
    return { partly: true };
  }
  if (names.length === 0) return { partly: false };
  const out: Record<string, Buffer> = {};
  let partly = false;
  for (const name of names.sort()) {
    try {
      out[name] = getXattr(path, name);
    } catch {
      // Vanished or unreadable between list and get (trusted.* without privilege): skip it.
      partly = true;
    }
  }
  return Object.keys(out).length > 0 ? { xattrs: out, partly } : { partly };
}
