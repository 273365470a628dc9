import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repo/repository.js';
import { deserializeTree, serializeTree } from '../../src/repo/tree.js';
import { treesInOrder } from '../../src/repo/trees-in-order.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';
import { treeNode as node } from '../helpers/tree-nodes.js';

describe('treesInOrder', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  /** Closed after each test: an open repository keeps its pack files open until garbage collection. */
  const opened: Repository[] = [];
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-trees-in-order-');
  });
  afterEach(async () => {
    for (const repo of opened.splice(0)) await repo.close();
    await tmp.cleanup();
  });

  async function openRepo(): Promise<Repository> {
    const repo = await Repository.open(createLocalAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    opened.push(repo);
    return repo;
  }

  /** `n` trees of one file each, named after their number; the tree at `large` holds 300 files. */
  async function storeTrees(n: number, large = -1): Promise<{ repo: Repository; ids: string[]; treeBytes: number }> {
    const created = await Repository.create(createLocalAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const files = i === large ? Array.from({ length: 300 }, (_, k) => node(`file-${i}-${k}`)) : [node(`file-${i}`)];
      ids.push(await created.saveTree(files));
    }
    await created.flush();
    await created.close();
    const treeBytes = serializeTree([node('file-10')]).length;
    return { repo: await openRepo(), ids, treeBytes };
  }

  /** The repository's loadTrees, recording where each call starts and how many trees the caller had asked for then. */
  function watched(repo: Repository, ids: string[], asked: () => number) {
    const calls: { from: number; asked: number }[] = [];
    return {
      calls,
      source: {
        loadBlob: (id: string) => repo.loadBlob(id),
        loadTrees: (wanted: readonly string[], maxBytes?: number) => {
          calls.push({ from: ids.length - wanted.length, asked: asked() });
          return repo.loadTrees(wanted, maxBytes);
        },
      },
    };
  }

  it('starts reading at once, and reads each next batch before the caller asks for its first tree', async () => {
    const { repo, ids, treeBytes } = await storeTrees(40);
    let asked = 0;
    const { calls, source } = watched(repo, ids, () => asked);
    // Ten trees to a half of the budget.
    const trees = treesInOrder(source, ids, treeBytes * 20, deserializeTree);
    expect(calls).toEqual([{ from: 0, asked: 0 }]);
    const names: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      asked++;
      names.push(...(await trees.next()).map((n) => n.name.toString()));
    }
    expect(names).toEqual(ids.map((_, i) => `file-${i}`));
    expect(calls.length).toBeGreaterThan(3);
    for (const call of calls.slice(1)) expect(call.asked).toBeLessThanOrEqual(call.from);
  });

  it('hands a tree listed several times (identical directories) out at each of its turns, read once', async () => {
    const { repo, ids } = await storeTrees(3);
    const [a, b, c] = ids as [string, string, string];
    const listed = [a, b, a, a, c, a];
    let alone = 0;
    const trees = treesInOrder({ loadBlob: (id) => (alone++, repo.loadBlob(id)), loadTrees: (wanted, max) => repo.loadTrees(wanted, max) }, listed, 1024 * 1024, deserializeTree);
    const names: string[] = [];
    for (const _ of listed) names.push(...(await trees.next()).map((n) => n.name.toString()));
    expect(names).toEqual(['file-0', 'file-1', 'file-0', 'file-0', 'file-2', 'file-0']);
    expect(alone).toBe(0);
  });

  it('reads a tree larger than a batch alone, and a damaged tree alone with its error, in their turns', async () => {
    const { repo, ids, treeBytes } = await storeTrees(12, 5);
    const damaged = repo.lookupBlob(ids[8]!)!;
    const packPath = join(tmp.path, 'repo', 'data', damaged.packId.slice(0, 2), damaged.packId);
    const pack = await readFile(packPath);
    pack[damaged.offset + (damaged.length >> 1)]! ^= 0xff;
    await writeFile(packPath, pack);
    const reopened = await openRepo();

    const trees = treesInOrder(reopened, ids, treeBytes * 8, deserializeTree);
    const got = await Promise.all(
      ids.map(() =>
        trees.next().then(
          (nodes) => nodes.length,
          (err: Error) => err.message,
        ),
      ),
    );
    expect(got[5]).toBe(300);
    expect(got[8]).toMatch(/damaged/);
    expect(got.filter((_, i) => i !== 5 && i !== 8)).toEqual(Array(10).fill(1));
  });
});
