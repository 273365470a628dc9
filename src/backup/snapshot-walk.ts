import { IntegrityError } from '../core/errors.js';
import type { Repository } from '../repo/repository.js';
import type { TreeNode } from '../repo/tree-node.js';

export interface WalkedNode {
  /** Path inside the snapshot as bytes, '/'-separated, with a leading '/'. */
  path: Buffer;
  node: TreeNode;
  depth: number;
}

const SLASH = Buffer.from('/');

/**
 * Yields every node of a snapshot tree in pre-order (a directory before its content),
 * rejecting names that could escape a restore target: a snapshot is outside input.
 */
export async function* walkSnapshotTree(repo: Repository, treeId: string, base: Buffer = Buffer.alloc(0), depth = 0): AsyncGenerator<WalkedNode> {
  const nodes = await repo.loadTree(treeId);
  let previous: Buffer | undefined;
  for (const node of nodes) {
    assertSafeName(node.name, treeId);
    if (previous && previous.equals(node.name)) throw new IntegrityError(`tree ${treeId.slice(0, 8)} lists '${node.name.toString()}' twice`);
    previous = node.name;
    const path = Buffer.concat([base, SLASH, node.name]);
    yield { path, node, depth };
    if (node.type === 'dir' && node.subtree) yield* walkSnapshotTree(repo, node.subtree, path, depth + 1);
  }
}

/** Finds the node at `path` ('/srv/app/file') in a snapshot tree, or undefined. */
export async function findNode(repo: Repository, treeId: string, path: string): Promise<{ node: TreeNode | undefined; treeId: string }> {
  const parts = path.split('/').filter((p) => p.length > 0);
  let tree = treeId;
  let node: TreeNode | undefined;
  for (const part of parts) {
    const nodes = await repo.loadTree(tree);
    node = nodes.find((n) => n.name.equals(Buffer.from(part)));
    if (!node) return { node: undefined, treeId: tree };
    if (node.type === 'dir' && node.subtree) tree = node.subtree;
  }
  return { node, treeId: tree };
}

function assertSafeName(name: Buffer, treeId: string): void {
  if (name.length === 0 || name.includes(0x2f) || name.includes(0) || name.equals(Buffer.from('.')) || name.equals(Buffer.from('..'))) {
    throw new IntegrityError(`tree ${treeId.slice(0, 8)} holds an unsafe name '${name.toString()}'; refusing to restore it`);
  }
}
