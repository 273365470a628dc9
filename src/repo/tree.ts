import { IntegrityError } from '../core/errors.js';
import type { NodeType, TreeNode } from './tree-node.js';

/** The stored form of a TreeNode: JSON-safe, with keys always written in this order. */
interface StoredNode {
  name?: string;
  nameB64?: string;
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  mtime: string;
  atime: string;
  ctime: string;
  dev: string;
  inode: string;
  nlink: number;
  size?: number;
  content?: string[];
  sparse?: boolean;
  linkTarget?: string;
  rdev?: string;
  subtree?: string;
  xattrs?: Record<string, string>;
}

const NODE_TYPES = new Set<NodeType>(['file', 'dir', 'symlink', 'fifo', 'chardev', 'blockdev', 'socket']);

/** Deterministic: entries sorted bytewise by name, fields in a fixed order, so equal directories hash equally. */
export function serializeTree(nodes: TreeNode[]): Buffer {
  const sorted = [...nodes].sort((a, b) => Buffer.compare(a.name, b.name));
  return Buffer.from(JSON.stringify({ version: 1, nodes: sorted.map(toStored) }));
}

function toStored(n: TreeNode): StoredNode {
  const s: StoredNode = { type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, mtime: '', atime: '', ctime: '', dev: '', inode: '', nlink: 0 };
  const utf8 = n.name.toString('utf8');
  const out: StoredNode = Buffer.from(utf8, 'utf8').equals(n.name) ? { name: utf8, ...s } : { nameB64: n.name.toString('base64'), ...s };
  if (n.user !== undefined) out.user = n.user;
  if (n.group !== undefined) out.group = n.group;
  out.mtime = n.mtimeNs.toString();
  out.atime = n.atimeNs.toString();
  out.ctime = n.ctimeNs.toString();
  out.dev = n.dev.toString();
  out.inode = n.inode.toString();
  out.nlink = n.nlink;
  if (n.size !== undefined) out.size = n.size;
  if (n.content !== undefined) out.content = n.content;
  if (n.sparse) out.sparse = true;
  if (n.linkTarget !== undefined) out.linkTarget = n.linkTarget.toString('base64');
  if (n.rdev !== undefined) out.rdev = n.rdev.toString();
  if (n.subtree !== undefined) out.subtree = n.subtree;
  if (n.xattrs !== undefined) out.xattrs = Object.fromEntries(Object.entries(n.xattrs).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.toString('base64')]));
  return out;
}

export function deserializeTree(data: Buffer, id: string): TreeNode[] {
  let parsed: { version?: number; nodes?: StoredNode[] };
  try {
    parsed = JSON.parse(data.toString('utf8')) as typeof parsed;
  } catch (err) {
    throw new IntegrityError(`tree ${id.slice(0, 12)} is not valid JSON`, { cause: err });
  }
  if (parsed.version !== 1 || !Array.isArray(parsed.nodes)) throw new IntegrityError(`tree ${id.slice(0, 12)} has an unknown format`);
  return parsed.nodes.map((s) => {
    if (!NODE_TYPES.has(s.type)) throw new IntegrityError(`tree ${id.slice(0, 12)} holds an unknown node type '${String(s.type)}'`);
    const node: TreeNode = {
      name: s.nameB64 !== undefined ? Buffer.from(s.nameB64, 'base64') : Buffer.from(s.name ?? '', 'utf8'),
      type: s.type,
      mode: s.mode,
      uid: s.uid,
      gid: s.gid,
      mtimeNs: BigInt(s.mtime),
      atimeNs: BigInt(s.atime),
      ctimeNs: BigInt(s.ctime),
      dev: BigInt(s.dev),
      inode: BigInt(s.inode),
      nlink: s.nlink,
    };
    if (s.user !== undefined) node.user = s.user;
    if (s.group !== undefined) node.group = s.group;
    if (s.size !== undefined) node.size = s.size;
    if (s.content !== undefined) node.content = s.content;
    if (s.sparse) node.sparse = true;
    if (s.linkTarget !== undefined) node.linkTarget = Buffer.from(s.linkTarget, 'base64');
    if (s.rdev !== undefined) node.rdev = BigInt(s.rdev);
    if (s.subtree !== undefined) node.subtree = s.subtree;
    if (s.xattrs !== undefined) node.xattrs = Object.fromEntries(Object.entries(s.xattrs).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
    return node;
  });
}
