import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, InterruptedError } from '../../src/core/errors.js';
import { executePrune, planPrune, type PrunePlan } from '../../src/repo/prune.js';
import { Repository } from '../../src/repo/repository.js';
import type { SnapshotInput } from '../../src/repo/snapshot.js';
import type { StorageAdapter } from '../../src/storage/adapter.js';
import { makeTempDir } from '../helpers/cli.js';
import { treeNode as node } from '../helpers/tree-nodes.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Two 2100-byte records pass it: a data pack of two such blobs is finished as the second is added. */
const PACK_SIZE = 4096;
const OPTIONS = { password: null, packSize: PACK_SIZE };

function snapshotInput(tree: string, source: string): SnapshotInput {
  return {
    time: new Date().toISOString(),
    tree,
    paths: ['/srv'],
    hostname: 'h',
    username: 'u',
    source,
    strategy: 'full',
    tags: [],
    startTime: '',
    endTime: '',
    summary: { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, storedBytes: 0 },
    programVersion: 't',
  };
}

async function storedPacks(adapter: StorageAdapter): Promise<Map<string, number>> {
  const packs = new Map<string, number>();
  for await (const obj of adapter.list('data/')) packs.set(obj.key.slice(obj.key.lastIndexOf('/') + 1), obj.size);
  return packs;
}

async function indexFiles(adapter: StorageAdapter): Promise<string[]> {
  const keys: string[] = [];
  for await (const obj of adapter.list('index/')) keys.push(obj.key);
  return keys.sort();
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

/**
 * One repository with a pack of each kind, each blob's pack checked as it is built:
 *   used:    a1 a2      both reached by the kept backup
 *   gone:    b1 b2      reached by the forgotten backup only
 *   half:    c1 c2      c1 kept, c2 only forgotten (half the pack unused)
 *   mostly:  d1 d2      d1 (4000 bytes) kept, d2 (200 bytes) only forgotten
 *   trees:   the kept backup's two trees and the forgotten backup's root
 *   orphan:  e1 e2      stored by a run whose index file is lost: no index names it
 */
async function buildRepository(adapter: StorageAdapter) {
  const repo = await Repository.create(adapter, OPTIONS);
  const blobs = new Map<string, Buffer>();
  const save = async (size: number) => {
    const data = randomBytes(size);
    blobs.set(sha(data), data);
    await repo.saveBlob('data', sha(data), data);
    return sha(data);
  };
  // Saved one after another, so each pack takes the next two.
  const a1 = await save(2100);
  const a2 = await save(2100);
  const b1 = await save(2100);
  const b2 = await save(2100);
  const c1 = await save(2100);
  const c2 = await save(2100);
  const d1 = await save(4000);
  const d2 = await save(200);
  const sub = await repo.saveTree([node('d', { size: 4000, content: [d1] })]);
  const keptRoot = await repo.saveTree([node('a', { size: 4200, content: [a1, a2] }), node('c', { size: 2100, content: [c1] }), node('sub', { type: 'dir', mode: 0o755, subtree: sub })]);
  const goneRoot = await repo.saveTree([node('b', { size: 4200, content: [b1, b2] }), node('c', { size: 4200, content: [c1, c2] }), node('d', { size: 4200, content: [d1, d2] })]);
  await repo.flush();
  const keep = await repo.loadSnapshot(await repo.saveSnapshot(snapshotInput(keptRoot, 'kept')));
  const gone = await repo.loadSnapshot(await repo.saveSnapshot(snapshotInput(goneRoot, 'forgotten')));

  // A run that stored a pack and died before its index file: stored, then its index file removed.
  const before = await indexFiles(adapter);
  const e1 = await save(2100);
  await save(2100);
  await repo.flush();
  const orphanIndex = (await indexFiles(adapter)).filter((k) => !before.includes(k));
  expect(orphanIndex).toHaveLength(1);
  const orphan = repo.lookupBlob(e1)!.packId;
  await adapter.delete(orphanIndex[0]!);

  const packOf = (id: string) => repo.lookupBlob(id)!.packId;
  const packs = { used: packOf(a1), gone: packOf(b1), half: packOf(c1), mostly: packOf(d1), trees: packOf(keptRoot), orphan };
  // The layout the tests rely on: the pack size split the blobs two by two, the trees went to a pack of their own.
  expect([packOf(a2), packOf(b2), packOf(c2), packOf(d2), packOf(sub), packOf(goneRoot)]).toEqual([packs.used, packs.gone, packs.half, packs.mostly, packs.trees, packs.trees]);
  expect(new Set(Object.values(packs)).size).toBe(6);
  expect((await storedPacks(adapter)).size).toBe(6);

  // Prune opens the repository afresh, as `backup prune` does: the orphan's blobs are in no index.
  const reopened = await Repository.open(adapter, OPTIONS);
  expect(reopened.hasBlob(e1)).toBe(false);
  return { repo: reopened, keep, gone, packs, blobs, ids: { a1, a2, b1, b2, c1, c2, d1, d2, sub, keptRoot, goneRoot } };
}

type Fixture = Awaited<ReturnType<typeof buildRepository>>;
type PackName = keyof Fixture['packs'];

/** The plan's packs by the fixture's names, for tables. */
function outcome(plan: PrunePlan, packs: Fixture['packs']) {
  const name = (id: string) => (Object.entries(packs) as [PackName, string][]).find(([, p]) => p === id)![0];
  const repacked = [...plan.repackBlobs.keys()].map(name).sort();
  return {
    kept: plan.keptPacks.map((p) => name(p.id)).sort(),
    repacked,
    deleted: plan.deletePacks
      .map(name)
      .filter((n) => !repacked.includes(n))
      .sort(),
  };
}

describe('planPrune', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let adapter: StorageAdapter;
  let fx: Fixture;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-prune-');
    adapter = localAdapter({ name: 'test-dest', path: join(tmp.path, 'repo') });
    fx = await buildRepository(adapter);
  });
  afterEach(() => tmp.cleanup());

  it.each<[string, number | undefined, { kept: PackName[]; repacked: PackName[]; deleted: PackName[] }]>([
    // Default 0.2: the half-used pack and the trees pack (a third unused) are above it, d2's 200 bytes of 4 KiB are not.
    ['the default threshold (0.2)', undefined, { kept: ['mostly', 'used'], repacked: ['half', 'trees'], deleted: ['gone', 'orphan'] }],
    ['threshold 0: any unused byte', 0, { kept: ['used'], repacked: ['half', 'mostly', 'trees'], deleted: ['gone', 'orphan'] }],
    ['threshold 1: never', 1, { kept: ['half', 'mostly', 'trees', 'used'], repacked: [], deleted: ['gone', 'orphan'] }],
  ])(
    'with %s, repacks a partly used pack whose unused share of bytes is above the threshold and keeps the others; deletes a pack with no used blob, and an unindexed one, whatever the threshold',
    async (_, repackThreshold, expected) => {
      const plan = await planPrune(fx.repo, [fx.keep], { repackThreshold });
      expect(outcome(plan, fx.packs)).toEqual(expected);
      expect(plan.packs).toEqual({ total: 6, kept: expected.kept.length, repacked: expected.repacked.length, deleted: expected.deleted.length, unindexed: 1 });
    },
  );

  it('counts as used every blob the kept backups reach, through subtrees, and nothing else', async () => {
    const plan = await planPrune(fx.repo, [fx.keep]);
    // a1 a2 c1 d1, the root and its subtree.
    expect(plan.usedBlobs).toBe(6);
    const both = await planPrune(fx.repo, [fx.keep, fx.gone]);
    // Every indexed blob: the orphan's are not indexed, and the orphan pack is deleted even so.
    expect(both.usedBlobs).toBe(11);
    expect(outcome(both, fx.packs)).toEqual({ kept: ['gone', 'half', 'mostly', 'trees', 'used'], repacked: [], deleted: ['orphan'] });
  });

  it('moves only the used blobs of a repacked pack, at the location the index reads them from', async () => {
    const plan = await planPrune(fx.repo, [fx.keep]);
    const moved = (pack: string) => plan.repackBlobs.get(pack)!.map((b) => b.id);
    expect(moved(fx.packs.half)).toEqual([fx.ids.c1]);
    expect(sorted(moved(fx.packs.trees))).toEqual(sorted([fx.ids.keptRoot, fx.ids.sub]));
    for (const locations of plan.repackBlobs.values()) for (const location of locations) expect(location).toEqual(fx.repo.lookupBlob(location.id));
    expect(plan.repackBlobs.get(fx.packs.trees)!.every((b) => b.type === 'tree')).toBe(true);
  });

  it('adds up bytes: total is every stored pack, toFree is the deleted packs whole plus the unused blobs of repacked ones', async () => {
    const stored = await storedPacks(adapter);
    const plan = await planPrune(fx.repo, [fx.keep]);
    const length = (id: string) => fx.repo.lookupBlob(id)!.length;
    const size = (pack: PackName) => stored.get(fx.packs[pack])!;
    expect(plan.bytes.total).toBe([...stored.values()].reduce((n, s) => n + s, 0));
    expect(plan.bytes.toFree).toBe(size('gone') + size('orphan') + length(fx.ids.c2) + length(fx.ids.goneRoot));
    // Unused counts blobs, not headers (an unindexed pack counts whole), and also what stays: d2, in a kept pack.
    expect(plan.bytes.unused).toBe(length(fx.ids.b1) + length(fx.ids.b2) + size('orphan') + length(fx.ids.c2) + length(fx.ids.goneRoot) + length(fx.ids.d2));
    // So a deleted pack frees its header too: more than the unused bytes it held.
    expect(length(fx.ids.b1) + length(fx.ids.b2)).toBeLessThan(size('gone'));
  });

  it('repacks a pack only when its unused share is strictly above the threshold: at exactly the share, it is kept', async () => {
    const stored = await storedPacks(adapter);
    const share = fx.repo.lookupBlob(fx.ids.c2)!.length / stored.get(fx.packs.half)!;
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(0.5);
    const at = await planPrune(fx.repo, [fx.keep], { repackThreshold: share });
    expect(outcome(at, fx.packs).kept).toContain('half');
    const below = await planPrune(fx.repo, [fx.keep], { repackThreshold: share - 1e-9 });
    expect(outcome(below, fx.packs).repacked).toContain('half');
  });

  it('names every index file as one to replace, and deletes no pack holding a needed blob unless that blob is moved out', async () => {
    const plan = await planPrune(fx.repo, [fx.keep]);
    expect(sorted(plan.oldIndexFiles.map((id) => `index/${id}`))).toEqual(await indexFiles(adapter));
    const moved = new Set([...plan.repackBlobs.values()].flatMap((blobs) => blobs.map((b) => b.id)));
    for (const id of [fx.ids.a1, fx.ids.a2, fx.ids.c1, fx.ids.d1, fx.ids.sub, fx.ids.keptRoot]) {
      if (plan.deletePacks.includes(fx.repo.lookupBlob(id)!.packId)) expect(moved).toContain(id);
    }
  });

  it('stops before anything is decided when a kept backup reaches a blob missing from the index', async () => {
    const missing = sha(randomBytes(16));
    const tree = await fx.repo.saveTree([node('lost', { size: 16, content: [missing] })]);
    await fx.repo.flush();
    const broken = await fx.repo.loadSnapshot(await fx.repo.saveSnapshot(snapshotInput(tree, 'broken')));
    const err = await planPrune(fx.repo, [fx.keep, broken]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toBe(
      `backup ${broken.id.slice(0, 8)} references blob ${missing.slice(0, 12)}, which is not in the index of test-dest: nothing was pruned; check the repository first`,
    );
  });

  it('stops with InterruptedError when the signal is aborted while it marks', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(planPrune(fx.repo, [fx.keep], { signal: controller.signal })).rejects.toThrow(InterruptedError);
  });
});

describe('planPrune with a blob stored twice', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  afterEach(() => tmp.cleanup());

  it('counts the blob live only in the pack the index reads it from; the other copy is unused', async () => {
    tmp = await makeTempDir('bkdr-prune-');
    const adapter = localAdapter({ name: 'test-dest', path: join(tmp.path, 'repo') });
    const repo = await Repository.create(adapter, OPTIONS);
    const [x, other, y] = [randomBytes(2100), randomBytes(2100), randomBytes(2100)];
    await repo.saveBlob('data', sha(x), x);
    await repo.saveBlob('data', sha(other), other);
    await repo.flush();
    // As two backups running at once would: the same blob in a second pack, named by a second index file.
    expect((await repo.saveBlob('data', sha(x), x, { rewrite: true })).stored).toBe(true);
    await repo.saveBlob('data', sha(y), y);
    const tree = await repo.saveTree([node('x', { size: 2100, content: [sha(x)] })]);
    await repo.flush();
    await repo.saveSnapshot(snapshotInput(tree, 's'));
    const reopened = await Repository.open(adapter, OPTIONS);
    const [snapshot] = await reopened.listSnapshots();
    const files = await reopened.readIndexFiles();
    const holding = files.flatMap((f) => f.packs.filter((p) => p.blobs.some((b) => b.id === sha(x))).map((p) => p.id));
    expect(holding).toHaveLength(2);

    const plan = await planPrune(reopened, [snapshot!]);
    const reads = reopened.lookupBlob(sha(x))!.packId;
    const copy = holding.find((p) => p !== reads)!;
    // Where the index reads x, the pack's other blob is unused: half, so it is repacked with x alone.
    expect(plan.repackBlobs.get(reads)!.map((b) => b.id)).toEqual([sha(x)]);
    // The pack holding the other copy has no live blob.
    expect(plan.deletePacks).toContain(copy);
    expect(plan.repackBlobs.has(copy)).toBe(false);
  });
});

describe('executePrune', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let adapter: StorageAdapter;
  let fx: Fixture;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-prune-');
    adapter = localAdapter({ name: 'test-dest', path: join(tmp.path, 'repo') });
    fx = await buildRepository(adapter);
  });
  afterEach(() => tmp.cleanup());

  it('leaves the kept packs and new packs of exactly the repacked blobs, and reports the bytes it freed', async () => {
    const plan = await planPrune(fx.repo, [fx.keep]);
    const report = await executePrune(fx.repo, plan, [fx.gone.id]);

    const after = await storedPacks(adapter);
    const keptIds = plan.keptPacks.map((p) => p.id);
    for (const id of plan.deletePacks) expect(after.has(id)).toBe(false);
    for (const id of keptIds) expect(after.get(id)).toBe(plan.keptPacks.find((p) => p.id === id)!.size);
    const added = [...after.keys()].filter((id) => !keptIds.includes(id));
    // One data pack (c1) and one tree pack (the kept root and its subtree).
    expect(added).toHaveLength(2);
    expect(after.size).toBe(plan.packs.kept + added.length);

    const reopened = await Repository.open(adapter, OPTIONS);
    const inNew = [fx.ids.c1, fx.ids.keptRoot, fx.ids.sub];
    for (const id of inNew) expect(added).toContain(reopened.lookupBlob(id)!.packId);
    const newIndexed = (await reopened.readIndexFiles()).flatMap((f) => f.packs).filter((p) => added.includes(p.id));
    expect(sorted(newIndexed.flatMap((p) => p.blobs.map((b) => b.id)))).toEqual(sorted(inNew));

    const bytesAfter = [...after.values()].reduce((n, s) => n + s, 0);
    expect(report).toEqual({
      packsDeleted: plan.deletePacks.length,
      packsRepacked: 2,
      blobsRepacked: 3,
      bytesBefore: plan.bytes.total,
      bytesAfter,
      bytesFreed: plan.bytes.total - bytesAfter,
    });
    expect(report.packsDeleted).toBe(4);
  });

  it('keeps every blob a kept backup needs readable, with its bytes', async () => {
    const plan = await planPrune(fx.repo, [fx.keep]);
    await executePrune(fx.repo, plan, [fx.gone.id]);
    const reopened = await Repository.open(adapter, OPTIONS);
    for (const id of [fx.ids.a1, fx.ids.a2, fx.ids.c1, fx.ids.d1]) expect((await reopened.loadBlob(id)).equals(fx.blobs.get(id)!)).toBe(true);
    const root = await reopened.loadTree(fx.keep.tree);
    expect(root.map((n) => n.name.toString())).toEqual(['a', 'c', 'sub']);
    expect((await reopened.loadTree(fx.ids.sub)).map((n) => n.content)).toEqual([[fx.ids.d1]]);
    // What only the forgotten backup needed, in a deleted pack, is gone from the index.
    for (const id of [fx.ids.b1, fx.ids.b2, fx.ids.c2, fx.ids.goneRoot]) expect(reopened.hasBlob(id)).toBe(false);
    // d2 stays: its pack is kept.
    expect(reopened.hasBlob(fx.ids.d2)).toBe(true);
  });

  it('deletes the forgotten backup and replaces the index files with ones naming exactly the packs left', async () => {
    const oldIndex = await indexFiles(adapter);
    const plan = await planPrune(fx.repo, [fx.keep]);
    await executePrune(fx.repo, plan, [fx.gone.id]);
    expect(await adapter.stat(`snapshots/${fx.gone.id}`)).toBeUndefined();
    const reopened = await Repository.open(adapter, OPTIONS);
    expect((await reopened.listSnapshots()).map((s) => s.id)).toEqual([fx.keep.id]);
    const newIndex = await indexFiles(adapter);
    expect(newIndex.filter((k) => oldIndex.includes(k))).toEqual([]);
    // One file for the repacked blobs' packs, one for the kept packs.
    expect(newIndex).toHaveLength(2);
    expect(sorted(reopened.indexedPackIds)).toEqual(sorted((await storedPacks(adapter)).keys()));
  });

  it('leaves nothing for a second prune to delete or repack', async () => {
    await executePrune(fx.repo, await planPrune(fx.repo, [fx.keep]), [fx.gone.id]);
    const reopened = await Repository.open(adapter, OPTIONS);
    const again = await planPrune(reopened, [fx.keep]);
    expect(again.packs).toEqual({ total: 4, kept: 4, repacked: 0, deleted: 0, unindexed: 0 });
    // Only d2 is unused, in a pack kept for being mostly used.
    expect(again.bytes.unused).toBe(reopened.lookupBlob(fx.ids.d2)!.length);
    expect(again.bytes.toFree).toBe(0);
  });
});
