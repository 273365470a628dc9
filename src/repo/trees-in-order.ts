import type { Repository } from './repository.js';

type TreeBatch = {
  from: number;
  read: Promise<{ trees: Map<string, Buffer>; taken: number }>;
  done: boolean;
  /** Turns left in the batch per tree: identical directories (empty ones, say) share a tree. */
  turns?: Map<string, number>;
};

/** The first batch's share of the budget: small, so the caller's first tree comes soon. */
const FIRST_BATCH_SHARE = 1 / 8;

/**
 * The trees `ids` name, one per call of next(), in order: read together (loadTrees: a
 * request per pack span, records opened in batches) and parsed as the caller reaches
 * each. One by one, each tree was its own request and trips to the pool.
 *
 * Reading starts at once, and the next batch is read while the caller works through the
 * current one: with one batch at a time, the restore plan waited for every batch's read.
 * Two batches of at most half of `maxBytes` of plaintext each are held at a time. A tree
 * left out of a batch (larger than the batch, or damaged) is read alone, and its error
 * says what is wrong.
 */
export function treesInOrder<T>(
  repo: Pick<Repository, 'loadBlob' | 'loadTrees'>,
  ids: readonly string[],
  maxBytes: number,
  /** deserializeTree, or a lighter parse for a caller that needs less of each tree. */
  parse: (data: Buffer, id: string) => T,
): { next: () => Promise<T> } {
  const readBatch = (from: number, budget: number): TreeBatch => {
    const read = repo.loadTrees(ids.slice(from), budget);
    const batch: TreeBatch = { from, read, done: false };
    // A failure surfaces through the tree that needs the batch; a batch read ahead may never be needed.
    read.then(
      () => (batch.done = true),
      () => (batch.done = true),
    );
    return batch;
  };
  let current: TreeBatch | undefined = ids.length > 0 ? readBatch(0, maxBytes * FIRST_BATCH_SHARE) : undefined;
  let ahead: TreeBatch | undefined;
  let turn = 0;

  const read = async (i: number): Promise<T> => {
    const id = ids[i]!;
    for (;;) {
      current ??= readBatch(i, maxBytes / 2);
      const { trees, taken } = await current.read;
      // A tree the batch left out is read alone in its turn: the batch ends after it.
      const end = current.from + Math.max(taken, 1);
      if (i < end) {
        if (!ahead && end < ids.length) ahead = readBatch(end, maxBytes / 2);
        // A caller whose trees are all at hand never returns to the event loop, and the batch
        // read ahead would wait for it (its reads' callbacks): let them in.
        if (ahead && !ahead.done) await new Promise(setImmediate);
        const data = trees.get(id);
        // Held no longer than its last turn: the budget bounds what waits, not what was read.
        current.turns ??= turnsIn(ids, current.from, end);
        const turnsLeft = current.turns.get(id)! - 1;
        if (turnsLeft > 0) current.turns.set(id, turnsLeft);
        else trees.delete(id);
        return parse(data ?? (await repo.loadBlob(id)), id);
      }
      current = ahead;
      ahead = undefined;
    }
  };

  // One turn after the other, so a batch is passed over only once every turn in it was taken.
  let previous: Promise<unknown> = Promise.resolve();
  return {
    next: () => {
      const i = turn++;
      const tree = previous.then(() => read(i));
      previous = tree.catch(() => undefined);
      // A failure surfaces when the caller awaits it; one never awaited (an earlier failure) is not unhandled.
      tree.catch(() => undefined);
      return tree;
    },
  };
}

function turnsIn(ids: readonly string[], from: number, end: number): Map<string, number> {
  const turns = new Map<string, number>();
  for (let k = from; k < end; k++) turns.set(ids[k]!, (turns.get(ids[k]!) ?? 0) + 1);
  return turns;
}
