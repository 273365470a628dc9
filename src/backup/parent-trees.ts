import type { Repository } from '../repo/repository.js';
import { deserializeTree } from '../repo/tree.js';
import type { TreeNode } from '../repo/tree-node.js';

/** Plaintext of parent trees read ahead and not yet walked, at most: bounds memory in wide trees. */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;

/**
 * The parent snapshot's trees, as the walk of a new backup reaches each directory. When
 * a directory's tree is read, its subdirectories' trees are read together (a request per
 * pack span instead of one each, records opened in batches), so the walk finds them
 * waiting: read one by one, the 100 trees of a directory of 100 subdirectories were a
 * tenth of an incremental backup's main thread.
 */
export class ParentTrees {
  readonly #repo: Pick<Repository, 'loadTree' | 'loadTrees'>;
  /** Trees read ahead, as plaintext: parsed only when the walk gets there. */
  readonly #ahead = new Map<string, Buffer>();
  #aheadBytes = 0;
  #reading: { ids: ReadonlySet<string>; done: Promise<void> } | undefined;

  constructor(repo: Pick<Repository, 'loadTree' | 'loadTrees'>) {
    this.#repo = repo;
  }

  /** A tree's entries by name (hex); undefined when it cannot be read, which only costs speed. */
  async load(id: string): Promise<Map<string, TreeNode> | undefined> {
    let nodes: TreeNode[];
    try {
      let data = this.#take(id);
      if (!data && this.#reading?.ids.has(id)) {
        await this.#reading.done;
        data = this.#take(id);
      }
      nodes = data ? deserializeTree(data, id) : await this.#repo.loadTree(id);
    } catch {
      return undefined;
    }
    this.#readAhead(nodes);
    return new Map(nodes.map((n) => [n.name.toString('hex'), n]));
  }

  #take(id: string): Buffer | undefined {
    const data = this.#ahead.get(id);
    if (!data) return undefined;
    this.#ahead.delete(id);
    this.#aheadBytes -= data.length;
    return data;
  }

  /** One read ahead at a time, within the budget; a directory with one subdirectory gains nothing from it. */
  #readAhead(nodes: TreeNode[]): void {
    if (this.#reading) return;
    // Trees the walk never came to (directories since deleted or excluded) go first, oldest first.
    for (const id of this.#ahead.keys()) {
      if (this.#aheadBytes < READ_AHEAD_BYTES / 2) break;
      this.#take(id);
    }
    const ids = [...new Set(nodes.flatMap((n) => (n.type === 'dir' && n.subtree && !this.#ahead.has(n.subtree) ? [n.subtree] : [])))];
    if (ids.length < 2) return;
    const done = this.#repo
      .loadTrees(ids, READ_AHEAD_BYTES - this.#aheadBytes)
      .then(
        ({ trees }) => {
          for (const [id, data] of trees) {
            this.#ahead.set(id, data);
            this.#aheadBytes += data.length;
          }
        },
        // Each is read alone then, and says what is wrong.
        () => undefined,
      )
      .finally(() => (this.#reading = undefined));
    this.#reading = { ids: new Set(ids), done };
  }
}
