import type { TreeNode } from '../../repo/tree-node.js';

/**
 * The incremental strategy's "unchanged" test. ctime is in it because a tool can put
 * back a file's size and mtime after changing its bytes; it cannot put back ctime.
 */
export function sameFileIdentity(prev: TreeNode, cur: TreeNode): boolean {
  return prev.type === cur.type && prev.size === cur.size && prev.mtimeNs === cur.mtimeNs && prev.ctimeNs === cur.ctimeNs && prev.inode === cur.inode && prev.dev === cur.dev;
}
