import { describe, expect, it } from 'vitest';
import { treesReadBack } from '../../src/repo/trees-read-back.js';

/** A repository's tree reads, as treesReadBack sees them: `missing` trees read back neither together nor alone. */
function reader(missing: ReadonlySet<string> = new Set()) {
  const calls: { ids: readonly string[]; maxBytes: number }[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const repo = {
    async readBackTrees(ids: readonly string[], maxBytes: number) {
      calls.push({ ids, maxBytes });
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      // Two trees a read, whatever the budget.
      const taken = Math.min(2, ids.length);
      return { read: new Set(ids.slice(0, taken).filter((id) => !missing.has(id))), taken };
    },
    async loadTrees(ids: readonly string[], maxBytes = Infinity) {
      const { read, taken } = await repo.readBackTrees(ids, maxBytes);
      return { trees: new Map([...read].map((id) => [id, Buffer.from(id)] as const)), taken };
    },
    async loadBlob(id: string) {
      if (missing.has(id)) throw new Error(`${id} does not read back`);
      return Buffer.from(id);
    },
  };
  return { repo, calls, mostInFlight: () => mostInFlight };
}

describe('treesReadBack', () => {
  const ids = Array.from({ length: 130 }, (_, i) => `tree-${i}`);

  it('reads every tree once, in turn with one lane and side by side with two, each lane within its share of the budget', async () => {
    const one = reader();
    expect(await treesReadBack(one.repo, ids, 1000)).toBe(true);
    expect(one.mostInFlight()).toBe(1);
    expect(one.calls.flatMap((c) => c.ids.slice(0, 2))).toEqual(ids);
    const two = reader();
    expect(await treesReadBack(two.repo, ids, 1000, { lanes: 2 })).toBe(true);
    expect(two.mostInFlight()).toBe(2);
    expect(new Set(two.calls.map((c) => c.maxBytes))).toEqual(new Set([500]));
    expect(two.calls.flatMap((c) => c.ids.slice(0, 2)).sort()).toEqual([...ids].sort());
  });

  it('fails when a tree of either lane does not read back, and the other lane stops at its next read', async () => {
    // The first tree of each lane: read in full, the two lanes would take 65 reads.
    for (const bad of ['tree-0', 'tree-65']) {
      const { repo, calls } = reader(new Set([bad]));
      expect(await treesReadBack(repo, ids, 1000, { lanes: 2 }), bad).toBe(false);
      expect(calls.length, bad).toBeLessThanOrEqual(4);
    }
    expect(await treesReadBack(reader().repo, [], 1000, { lanes: 2 })).toBe(true);
    // Too few trees for two lanes: read in turn.
    const few = reader();
    expect(await treesReadBack(few.repo, ids.slice(0, 100), 1000, { lanes: 2 })).toBe(true);
    expect(few.mostInFlight()).toBe(1);
  });
});
