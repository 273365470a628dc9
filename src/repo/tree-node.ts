/**
 * One entry of a directory listing as it is stored in a tree blob. Produced by the
 * files source (src/sources/files), serialized by src/repo/tree.ts, consumed by the
 * restorer. Times are integer nanoseconds since the epoch as decimal strings, so no
 * precision is lost to doubles; names are bytes (base64 when not valid UTF-8).
 */
export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev' | 'socket';

export interface TreeNode {
  /** The entry's name as raw bytes; filenames on Linux need not be UTF-8. */
  name: Buffer;
  type: NodeType;
  /** Permission and special bits (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  /** Nanoseconds since the epoch. */
  mtimeNs: bigint;
  atimeNs: bigint;
  ctimeNs: bigint;
  /** Identity for change detection (inode) and hard links (dev + inode, link count); trees record dev for hard-linked files only. */
  dev: bigint;
  inode: bigint;
  nlink: number;
  /** Regular files: logical size in bytes and the data blob ids of the content, in order. */
  size?: number;
  content?: string[];
  /** Regular files with holes: restore writes data only where it is non-zero. */
  sparse?: boolean;
  /** Symlinks: the target as raw bytes. */
  linkTarget?: Buffer;
  /** Devices: st_rdev. */
  rdev?: bigint;
  /** Directories: the tree blob id of the contents. */
  subtree?: string;
  /** Extended attributes: name -> value bytes. */
  xattrs?: Record<string, Buffer>;
}
