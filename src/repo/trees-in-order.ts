import type { Repository } from './repository.js';
import { deserializeTree } from './tree.js';
import type { TreeNode } from './tree-node.js';

/**
 * The trees `ids` name, one per call of next(), in order: read together (loadTrees: a
 * request per pack span, records opened in batches), `maxBytes` of plaintext at a time,
 * and parsed as the caller reaches each. One by one, each tree was its own request and
 * trips to the pool. A tree left out of a batch (larger than the budget, or damaged) is
 * read alone, and its error says what is wrong.
 */
export function treesInOrder(repo: Pick<Repository, 'loadTree' | 'loadTrees'>, ids: readonly string[], maxBytes: number): { next: () => Promise<TreeNode[]> } {
  let taken = 0;
  let batch: { from: number; read: Promise<{ trees: Map<string, Buffer>; taken: number }> } | undefined;
  const read = async (): Promise<TreeNode[]> => {
    const i = taken++;
    const id = ids[i]!;
    if (!batch || i >= batch.from + (await batch.read).taken) batch = { from: i, read: repo.loadTrees(ids.slice(i), maxBytes) };
    const { trees } = await batch.read;
    const data = trees.get(id);
    // Held no longer than its turn: the budget bounds what waits, not what was read.
    trees.delete(id);
    return data ? deserializeTree(data, id) : repo.loadTree(id);
  };
  return {
    next: () => {
      const tree = read();
      // A failure surfaces when the caller awaits it; one never awaited (an earlier failure) is not unhandled.
      tree.catch(() => undefined);
      return tree;
    },
  };
}
