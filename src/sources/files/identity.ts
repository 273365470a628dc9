import type { TreeNode } from '../../repo/tree-node.js';

/**
 * The incremental strategy's "unchanged" test. ctime is in it because a tool can put
 * back a file's size and mtime after changing its bytes; it cannot put back ctime. The
 * device is not (nor in restic's): its number is the mount's, not the file system's, and
 * changes when it is mounted again (btrfs after a reboot, a ZFS or LVM snapshot mounted
 * for the backup). With it, every such backup read every file again.
 */
export function sameFileIdentity(prev: TreeNode, cur: TreeNode): boolean {
  return prev.type === cur.type && prev.size === cur.size && prev.mtimeNs === cur.mtimeNs && prev.ctimeNs === cur.ctimeNs && prev.inode === cur.inode;
}
