import type { TreeNode } from '../../src/repo/tree-node.js';

/** A tree entry for tests that build trees by hand: a plain file unless `extra` says otherwise. */
export function treeNode(name: string, extra: Partial<TreeNode> = {}): TreeNode {
  return {
    name: Buffer.from(name),
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtimeNs: 1n,
    atimeNs: 1n,
    ctimeNs: 1n,
    dev: 1n,
    inode: 1n,
    nlink: 1,
    ...extra,
  };
}
