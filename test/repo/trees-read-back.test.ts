import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/repo/buffer-pool.js';
import { Repository } from '../../src/repo/repository.js';
import { treesReadBack } from '../../src/repo/trees-read-back.js';
import { makeTempDir } from '../helpers/cli.js';
import { localAdapters } from '../helpers/local-adapters.js';
import { treeNode } from '../helpers/tree-nodes.js';

const localAdapter = localAdapters();

/** A repository's tree reads, as treesReadBack sees them: `missing` trees read back neither together nor alone. */
function reader(missing: ReadonlySet<string> = new Set()) {
  const calls: { ids: readonly string[]; maxBytes: number }[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const repo = {
    calls,
    async readBackTrees(ids: readonly string[], maxBytes: number) {
      // Through `this`, as a Repository's methods are: a call without its receiver fails.
      this.calls.push({ ids, maxBytes });
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

  describe('from a repository', () => {
    let tmp: Awaited<ReturnType<typeof makeTempDir>>;
    beforeEach(async () => (tmp = await makeTempDir()));
    afterEach(() => tmp.cleanup());

    /** A repository holding 300 small trees, and their ids in the order saved. */
    async function withTrees(): Promise<{ repo: Repository; trees: string[] }> {
      const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
      const trees: string[] = [];
      for (let i = 0; i < 300; i++) trees.push(await repo.saveTree([treeNode(`file-${i}`, { size: i })]));
      await repo.flush();
      return { repo, trees };
    }

    it('reads trees back into buffers it gives back, naming only those that read back, in lanes or in turn alike', async () => {
      const { repo, trees } = await withTrees();
      const buffers = new BufferPool(64 << 20);
      const { read, taken } = await repo.readBackTrees(trees, 1 << 20, buffers);
      expect([read.size, taken]).toEqual([300, 300]);
      // Every buffer it leased is back in the pool.
      expect(buffers.retained).toBeGreaterThan(0);
      const again = await repo.readBackTrees(trees, 1 << 20, buffers);
      expect(again.read.size).toBe(300);
      expect(await treesReadBack(repo, trees, 1 << 20, { lanes: 4 })).toBe(true);

      // A tree damaged in storage reads back neither together nor alone, in whichever lane it lies.
      const damaged = repo.lookupBlob(trees[250]!)!;
      const packPath = join(tmp.path, 'repo', 'data', damaged.packId.slice(0, 2), damaged.packId);
      const pack = await readFile(packPath);
      pack[damaged.offset + (damaged.length >> 1)]! ^= 0xff;
      await writeFile(packPath, pack);
      const reopened = await Repository.open(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
      const after = await reopened.readBackTrees(trees, 1 << 20, new BufferPool(64 << 20));
      // Those after it in its pack are left out, as loadTrees leaves them: treesReadBack reads them alone.
      expect(after.read.has(trees[250]!)).toBe(false);
      expect(after.read.size).toBeLessThan(300);
      expect(await treesReadBack(reopened, trees, 1 << 20, { lanes: 4 })).toBe(false);
      expect(await treesReadBack(reopened, trees, 1 << 20)).toBe(false);
      expect(await treesReadBack(reopened, trees.slice(0, 250), 1 << 20, { lanes: 4 })).toBe(true);
    });
  });
});
