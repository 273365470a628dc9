import { InterruptedError } from '../core/errors.js';
import type { Repository } from './repository.js';
import type { WholePacks } from './whole-packs.js';

/** Trees offered to one read at most: the plaintext budget ends a read long before, unless the trees are tiny. */
const READ_BACK_TREES = 4096;

/**
 * Whether each of `ids` reads back: it is in the index, and decrypts, decompresses and
 * hashes to its id. Read together, `maxBytes` of plaintext at a time (a repository's trees
 * lie side by side in few packs), and not decoded. Read alone: the first of a read when it
 * is larger than the budget, and any a read left out (damaged, or stored as data: a file
 * that holds a tree's very bytes, stored before the tree, gives the tree its blob). Stops
 * at the first that does not read back.
 */
export async function treesReadBack(
  repo: Pick<Repository, 'loadTrees' | 'loadBlob'>,
  ids: readonly string[],
  maxBytes: number,
  opts: { whole?: WholePacks | undefined; signal?: AbortSignal | undefined } = {},
): Promise<boolean> {
  const readsAlone = (id: string) =>
    repo.loadBlob(id).then(
      () => true,
      () => false,
    );
  for (let at = 0; at < ids.length;) {
    if (opts.signal?.aborted) throw new InterruptedError('verification interrupted');
    const batch = ids.slice(at, at + READ_BACK_TREES);
    const { trees, taken } = await repo.loadTrees(batch, maxBytes, opts.whole);
    const read = batch.slice(0, Math.max(taken, 1));
    for (const id of read) if (!trees.has(id) && !(await readsAlone(id))) return false;
    at += read.length;
  }
  return true;
}
