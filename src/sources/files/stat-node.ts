import { type BigIntStats, lstatSync, readlinkSync } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
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

/**
 * The synchronous form, for the archiver's walk: an lstat of cached metadata takes
 * microseconds, less than the promise round trip through the thread pool would.
 */
export function statNodeSync(path: Buffer, name: Buffer, opts: { xattrs?: boolean } = {}): TreeNode {
  const st = lstatSync(path, { bigint: true });
  const node = baseNode(name, st, opts);
  if (node.type === 'symlink') node.linkTarget = readlinkSync(path, { encoding: 'buffer' });
  return withXattrs(path, node, opts);
}

export async function nodeFromStats(path: Buffer, name: Buffer, st: BigIntStats, opts: { xattrs?: boolean } = {}): Promise<TreeNode> {
  const node = baseNode(name, st, opts);
  if (node.type === 'symlink') node.linkTarget = await readlink(path, { encoding: 'buffer' });
  return withXattrs(path, node, opts);
}

function baseNode(name: Buffer, st: BigIntStats, _opts: { xattrs?: boolean }): TreeNode {
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
