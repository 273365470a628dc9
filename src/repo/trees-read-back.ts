import { InterruptedError } from '../core/errors.js';
import { BufferPool } from './buffer-pool.js';
import type { Repository } from './repository.js';
import type { WholePacks } from './whole-packs.js';

/** Trees offered to one read at most: the plaintext budget ends a read long before, unless the trees are tiny. */
const READ_BACK_TREES = 4096;
/** Trees a lane is given at least: a few trees (a no-op backup writes those above its source) read no faster split. */
const TREES_PER_LANE = 64;
/** A repository's reads of trees together; readBackTrees is taken when there, for more than one lane. */
type TreeReads = Pick<Repository, 'loadTrees' | 'loadBlob'> & Partial<Pick<Repository, 'readBackTrees'>>;

/** What one read's span or decoded batch takes at most (pack-reader.ts: a span of 4 MiB at most, batches of 1 MiB), for the buffers kept. */
const READ_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Whether each of `ids` reads back: it is in the index, and decrypts, decompresses and
 * hashes to its id. Read together, `maxBytes` of plaintext at a time (a repository's trees
 * lie side by side in few packs), and not decoded. Read alone: the first of a read when it
 * is larger than the budget, and any a read left out (damaged, or stored as data: a file
 * that holds a tree's very bytes, stored before the tree, gives the tree its blob). Stops
 * at the first that does not read back.
 *
 * `lanes`: the ids split into that many runs, read side by side, the budget shared. One
 * lane reads a span, then opens its records a batch at a time, and so keeps at most one
 * pool thread busy, while the backup that waits for the check has nothing else to do.
 */
export async function treesReadBack(
  repo: TreeReads,
  ids: readonly string[],
  maxBytes: number,
  opts: { whole?: WholePacks | undefined; signal?: AbortSignal | undefined; lanes?: number | undefined } = {},
): Promise<boolean> {
  const lanes = Math.max(1, Math.floor(Math.min(opts.lanes ?? 1, ids.length / TREES_PER_LANE)));
  const per = Math.ceil(ids.length / lanes);
  const state = { failed: false };
  const readTogether = readsTogether(repo, lanes, maxBytes);
  const read = await Promise.all(Array.from({ length: lanes }, (_, i) => readBackInTurn(repo, readTogether, ids.slice(i * per, (i + 1) * per), maxBytes / lanes, state, opts)));
  return read.every(Boolean);
}

/**
 * How a lane reads trees together. Side by side, into buffers shared by the lanes and given
 * back as each tree is read (readBackTrees): four lanes reading into fresh Buffers raised a
 * real-tree first backup's peak RSS by 7 MiB (higher in 8 of 10 alternating pairs), shared
 * ones did not. In turn, into fresh Buffers (loadTrees), as before: through a pool made for
 * each call, the reads of the trees a directory cache gave, a batch per call, raised a no-op
 * backup's peak RSS by 9-13 MiB.
 */
function readsTogether(
  repo: TreeReads,
  lanes: number,
  maxBytes: number,
): (ids: readonly string[], maxBytes: number, whole: WholePacks | undefined) => Promise<{ has(id: string): boolean; taken: number }> {
  const { readBackTrees } = repo;
  if (lanes > 1 && readBackTrees) {
    // Each lane's span and decoded batch, within its share of the budget.
    const buffers = new BufferPool(2 * Math.min(maxBytes, lanes * READ_BUFFER_BYTES), { allocate: (size) => Buffer.allocUnsafeSlow(size) });
    return async (ids, budget, whole) => {
      const { read, taken } = await readBackTrees.call(repo, ids, budget, buffers, whole);
      return { has: (id) => read.has(id), taken };
    };
  }
  return async (ids, budget, whole) => {
    const { trees, taken } = await repo.loadTrees(ids, budget, whole);
    return { has: (id) => trees.has(id), taken };
  };
}

/** One lane of treesReadBack; stops once any lane has found a tree that does not read back. */
async function readBackInTurn(
  repo: TreeReads,
  readTogether: ReturnType<typeof readsTogether>,
  ids: readonly string[],
  maxBytes: number,
  state: { failed: boolean },
  opts: { whole?: WholePacks | undefined; signal?: AbortSignal | undefined },
): Promise<boolean> {
  const readsAlone = (id: string) =>
    repo.loadBlob(id).then(
      () => true,
      () => false,
    );
  for (let at = 0; at < ids.length;) {
    if (opts.signal?.aborted) throw new InterruptedError('verification interrupted');
    if (state.failed) return false;
    const batch = ids.slice(at, at + READ_BACK_TREES);
    const together = await readTogether(batch, maxBytes, opts.whole);
    const read = batch.slice(0, Math.max(together.taken, 1));
    for (const id of read) {
      if (!together.has(id) && !(await readsAlone(id))) {
        state.failed = true;
        return false;
      }
    }
    at += read.length;
  }
  return true;
}
