import { type BigIntStats, constants as fsc, readlinkSync } from 'node:fs';
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

/** Numbers per path from the native statMany (STAT_META in native/bkdr_blob.c). */
const STAT_META = 20;

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
  return paths.map((path, i) => {
    const m = meta.subarray(i * STAT_META, (i + 1) * STAT_META);
    if (m[0] !== 0) return systemError(m[0]!, 'lstat', path);
    const node = baseNode(names[i]!, packedStats(m));
    if (node.type === 'symlink') {
      // Gone or replaced since its lstat (an editor's lock link): that entry's error, not the walk's.
      try {
        node.linkTarget = readlinkSync(path, { encoding: 'buffer' });
      } catch (err) {
        return err as NodeJS.ErrnoException;
      }
    }
    // Only where there are any (or the listing failed, to be told apart there): most files have none.
    return m[19] === 0 || node.type === 'socket' ? node : withXattrs(path, node, {});
  });
}

/** What baseNode reads of a BigIntStats, from statMany's numbers. */
function packedStats(m: Float64Array): StatFields {
  const mode = m[1]!;
  const type = mode & fsc.S_IFMT;
  const ns = (s: number, n: number) => BigInt(s) * 1_000_000_000n + BigInt(n);
  const wide = (hi: number, lo: number) => (BigInt(hi) << 32n) | BigInt(lo);
  return {
    isFile: () => type === fsc.S_IFREG,
    isDirectory: () => type === fsc.S_IFDIR,
    isSymbolicLink: () => type === fsc.S_IFLNK,
    isFIFO: () => type === fsc.S_IFIFO,
    isCharacterDevice: () => type === fsc.S_IFCHR,
    isBlockDevice: () => type === fsc.S_IFBLK,
    mode: BigInt(mode),
    uid: BigInt(m[2]!),
    gid: BigInt(m[3]!),
    nlink: BigInt(m[4]!),
    size: BigInt(m[5]!),
    blocks: BigInt(m[6]!),
    mtimeNs: ns(m[7]!, m[8]!),
    atimeNs: ns(m[9]!, m[10]!),
    ctimeNs: ns(m[11]!, m[12]!),
    dev: wide(m[13]!, m[14]!),
    ino: wide(m[15]!, m[16]!),
    rdev: wide(m[17]!, m[18]!),
  };
}

type StatFields = Pick<BigIntStats, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isCharacterDevice' | 'isBlockDevice' | 'mode' | 'uid' | 'gid' | 'nlink' | 'size' | 'blocks' | 'mtimeNs' | 'atimeNs' | 'ctimeNs' | 'dev' | 'ino' | 'rdev'>;

export async function nodeFromStats(path: Buffer, name: Buffer, st: BigIntStats, opts: { xattrs?: boolean } = {}): Promise<TreeNode> {
  const node = baseNode(name, st);
  if (node.type === 'symlink') node.linkTarget = await readlink(path, { encoding: 'buffer' });
  return withXattrs(path, node, opts);
}

function baseNode(name: Buffer, st: StatFields): TreeNode {
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
  const user = userName(uid);
  const group = groupName(gid);
  if (user !== undefined) node.user = user;
  if (group !== undefined) node.group = group;
  if (type === 'file') {
    node.size = Number(st.size);
    if (st.size > 0n && st.blocks * 512n < st.size) node.sparse = true;
  } else if (type === 'chardev' || type === 'blockdev') {
    node.rdev = st.rdev;
  }
  return node;
}

function withXattrs(path: Buffer, node: TreeNode, opts: { xattrs?: boolean }): TreeNode {
  if (opts.xattrs !== false && node.type !== 'socket') {
    const xattrs = readXattrs(path);
    if (xattrs) node.xattrs = xattrs;
  }
  return node;
}

function readXattrs(path: Buffer): Record<string, Buffer> | undefined {
  let names: string[];
  try {
    names = listXattrs(path);
  } catch {
    return undefined;
  }
  if (names.length === 0) return undefined;
  const out: Record<string, Buffer> = {};
  for (const name of names.sort()) {
    try {
      out[name] = getXattr(path, name);
    } catch {
      // Vanished or unreadable between list and get (security.* without privilege): skip it.
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
