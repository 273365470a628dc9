import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rebuildIndex, repairSnapshots } from '../../src/repo/repair.js';
import { Repository } from '../../src/repo/repository.js';
import type { Snapshot, SnapshotInput } from '../../src/repo/snapshot.js';
import type { TreeNode } from '../../src/repo/tree-node.js';
import { readAll, type StorageAdapter } from '../../src/storage/adapter.js';
import { makeTempDir } from '../helpers/cli.js';
import { treeNode as node } from '../helpers/tree-nodes.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Small packs: two 2100-byte blobs fill one. */
const OPTIONS = { password: null, packSize: 4096 };

function snapshotInput(tree: string, tags: string[] = []): SnapshotInput {
  return {
    time: '2024-05-01T10:00:00.000Z',
    tree,
    paths: ['/srv'],
    hostname: 'h',
    username: 'u',
    source: 'files',
    strategy: 'full',
    tags,
    startTime: '2024-05-01T10:00:00.000Z',
    endTime: '2024-05-01T10:00:01.000Z',
    summary: { files: 3, dirs: 2, bytes: 6300, newFiles: 3, changedFiles: 0, unchangedFiles: 0, dataBlobs: 3, newDataBlobs: 3, addedBytes: 6300, storedBytes: 6300 },
    programVersion: 't',
  };
}

/** Every object of the repository with its size and bytes: what "nothing was written" compares. */
async function everything(adapter: StorageAdapter): Promise<Map<string, string>> {
  const objects = new Map<string, string>();
  for await (const obj of adapter.list('')) objects.set(obj.key, sha(await readAll(await adapter.get(obj.key))));
  return new Map([...objects].sort(([a], [b]) => (a < b ? -1 : 1)));
}

const names = (nodes: TreeNode[]) => nodes.map((n) => n.name.toString());

async function keysUnder(adapter: StorageAdapter, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const obj of adapter.list(prefix)) keys.push(obj.key);
  return keys.sort();
}

describe('rebuildIndex', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let adapter: StorageAdapter;
  /** Every data blob stored, by id; the trees; where the original index said each blob lives. */
  let blobs: Map<string, Buffer>;
  let trees: string[];
  let locations: Map<string, unknown>;
  let packCount: number;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-repair-');
    adapter = localAdapter({ name: 'test-dest', path: join(tmp.path, 'repo') });
    const repo = await Repository.create(adapter, OPTIONS);
    blobs = new Map();
    trees = [];
    // Two runs, so two index files: five data blobs (three packs) and a tree, then two more data blobs.
    for (const round of [5, 2]) {
      const ids: string[] = [];
      for (let i = 0; i < round; i++) {
        const data = randomBytes(2100);
        blobs.set(sha(data), data);
        ids.push(sha(data));
        await repo.saveBlob('data', sha(data), data);
      }
      trees.push(await repo.saveTree([node('f', { size: 2100 * round, content: ids })]));
      await repo.flush();
    }
    locations = new Map([...blobs.keys(), ...trees].map((id) => [id, repo.lookupBlob(id)]));
    packCount = (await keysUnder(adapter, 'data/')).length;
    expect(packCount).toBe(6);
    expect(await keysUnder(adapter, 'index/')).toHaveLength(2);
  });
  afterEach(() => tmp.cleanup());

  const deleteIndexFiles = async () => {
    for (const key of await keysUnder(adapter, 'index/')) await adapter.delete(key);
  };

  const expectEveryBlobReadable = async (repo: Repository) => {
    for (const [id, location] of locations) expect(repo.lookupBlob(id)).toEqual(location);
    for (const [id, data] of blobs) expect((await repo.loadBlob(id)).equals(data)).toBe(true);
    for (const id of trees) expect(names(await repo.loadTree(id))).toEqual(['f']);
  };

  it('with every index file deleted, rebuilds from the packs alone an index through which every blob reads again, where it was', async () => {
    await deleteIndexFiles();
    const bare = await Repository.open(adapter, OPTIONS);
    expect(bare.blobCount).toBe(0);
    const [first] = blobs.keys();
    await expect(bare.loadBlob(first!)).rejects.toThrow();

    expect(await rebuildIndex(bare)).toEqual({ packs: 6, blobs: 9, unreadable: [], oldIndexFiles: 0 });
    expect(await keysUnder(adapter, 'index/')).toHaveLength(1);
    const rebuilt = await Repository.open(adapter, OPTIONS);
    expect(rebuilt.blobCount).toBe(9);
    await expectEveryBlobReadable(rebuilt);
  });

  it('on a dry run, reports what it would index and writes nothing', async () => {
    await deleteIndexFiles();
    const before = await everything(adapter);
    const bare = await Repository.open(adapter, OPTIONS);
    expect(await rebuildIndex(bare, { dryRun: true })).toEqual({ packs: 6, blobs: 9, unreadable: [], oldIndexFiles: 0 });
    expect(await everything(adapter)).toEqual(before);
    expect((await Repository.open(adapter, OPTIONS)).blobCount).toBe(0);
  });

  it('replaces every existing index file with the one it writes, and counts them', async () => {
    const old = await keysUnder(adapter, 'index/');
    expect(await rebuildIndex(await Repository.open(adapter, OPTIONS))).toMatchObject({ packs: 6, blobs: 9, oldIndexFiles: 2 });
    const now = await keysUnder(adapter, 'index/');
    expect(now).toHaveLength(1);
    expect(old).not.toContain(now[0]);
    await expectEveryBlobReadable(await Repository.open(adapter, OPTIONS));
  });

  it('counts and deletes an index file the repository skipped as damaged', async () => {
    const [damaged] = await keysUnder(adapter, 'index/');
    const bytes = await readAll(await adapter.get(damaged!));
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff;
    await adapter.put(damaged!, bytes);
    await expect(Repository.open(adapter, OPTIONS)).rejects.toThrow(/damaged/);

    const tolerant = await Repository.open(adapter, { ...OPTIONS, tolerateDamagedIndex: true });
    expect(tolerant.damagedIndexFiles.map((f) => `index/${f.id}`)).toEqual([damaged]);
    expect((await rebuildIndex(tolerant)).oldIndexFiles).toBe(2);
    const now = await keysUnder(adapter, 'index/');
    expect(now).toHaveLength(1);
    expect(now).not.toContain(damaged);
    await expectEveryBlobReadable(await Repository.open(adapter, OPTIONS));
  });

  it('lists a pack whose header cannot be read as unreadable and leaves its blobs out of the new index', async () => {
    const [id] = blobs.keys();
    const broken = locations.get(id!) as { packId: string };
    const key = `data/${broken.packId.slice(0, 2)}/${broken.packId}`;
    // Cut off the trailer: the pack's header can no longer be found.
    const bytes = await readAll(await adapter.get(key));
    await adapter.put(key, bytes.subarray(0, bytes.length - 8));
    await deleteIndexFiles();

    const result = await rebuildIndex(await Repository.open(adapter, OPTIONS));
    expect(result.unreadable).toEqual([{ pack: broken.packId, problem: `pack ${broken.packId.slice(0, 12)} has no valid trailer` }]);
    // The other five packs: seven blobs, the broken pack's two left out.
    expect(result).toMatchObject({ packs: 5, blobs: 7 });
    const rebuilt = await Repository.open(adapter, OPTIONS);
    for (const blob of locations.keys()) expect(rebuilt.hasBlob(blob)).toBe((locations.get(blob) as { packId: string }).packId !== broken.packId);
  });

  it('writes byte for byte the same index file when rebuilt twice in an unencrypted repository, and keeps it', async () => {
    await rebuildIndex(await Repository.open(adapter, OPTIONS));
    const once = await keysUnder(adapter, 'index/');
    expect(await rebuildIndex(await Repository.open(adapter, OPTIONS))).toMatchObject({ oldIndexFiles: 1 });
    expect(await keysUnder(adapter, 'index/')).toEqual(once);
    await expectEveryBlobReadable(await Repository.open(adapter, OPTIONS));
  });
});

describe('repairSnapshots', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let adapter: StorageAdapter;
  let repo: Repository;
  let ids: Record<'kept1' | 'kept2' | 'kept3' | 'lost' | 'lostTree' | 'docs' | 'deep', string>;
  /** damaged: reaches a lost blob, a lost subtree and a lost file inside a subdirectory; intact: reaches nothing lost; rootless: its root tree is lost. */
  let damaged: Snapshot;
  let intact: Snapshot;
  let rootless: Snapshot;
  let isLost: (id: string) => boolean;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-repair-');
    adapter = localAdapter({ name: 'test-dest', path: join(tmp.path, 'repo') });
    const writer = await Repository.create(adapter, OPTIONS);
    const save = async () => {
      const data = randomBytes(2100);
      await writer.saveBlob('data', sha(data), data);
      return sha(data);
    };
    // The lost data blob and the lost tree each get a pack of their own, deleted below.
    const lost = await save();
    await writer.flush();
    const kept3 = await save();
    const lostTree = await writer.saveTree([node('inside', { size: 2100, content: [kept3] })]);
    await writer.flush();
    const kept1 = await save();
    const kept2 = await save();
    const dir = (name: string, subtree: string) => node(name, { type: 'dir', mode: 0o755, subtree });
    const docs = await writer.saveTree([node('readme', { size: 2100, content: [kept3] })]);
    const deep = await writer.saveTree([node('x', { size: 2100, content: [lost] }), node('y', { size: 2100, content: [kept2] })]);
    const damagedRoot = await writer.saveTree([
      node('intact', { size: 2100, content: [kept1] }),
      node('broken', { size: 4200, content: [kept2, lost] }),
      dir('docs', docs),
      dir('deep', deep),
      dir('vanished', lostTree),
    ]);
    const intactRoot = await writer.saveTree([node('intact', { size: 2100, content: [kept1] }), dir('docs', docs)]);
    await writer.flush();
    damaged = await writer.loadSnapshot(await writer.saveSnapshot(snapshotInput(damagedRoot, ['nightly'])));
    intact = await writer.loadSnapshot(await writer.saveSnapshot(snapshotInput(intactRoot)));
    rootless = await writer.loadSnapshot(await writer.saveSnapshot(snapshotInput(lostTree)));
    ids = { kept1, kept2, kept3, lost, lostTree, docs, deep };

    const lostPacks = new Set([writer.lookupBlob(lost)!.packId, writer.lookupBlob(lostTree)!.packId]);
    expect(lostPacks.size).toBe(2);
    expect(writer.lookupBlob(kept3)!.packId).not.toBe(writer.lookupBlob(lostTree)!.packId);
    for (const pack of lostPacks) await adapter.delete(`data/${pack.slice(0, 2)}/${pack}`);
    repo = await Repository.open(adapter, OPTIONS);
    // As `repair snapshots` decides after reading every pack: a blob whose pack is gone is lost.
    isLost = (id) => lostPacks.has(repo.lookupBlob(id)?.packId ?? '');
    await expect(repo.loadBlob(lost)).rejects.toThrow();
  });
  afterEach(() => tmp.cleanup());

  it('reports, per damaged backup, the paths it drops: a file reaching a lost blob, a directory whose listing is lost (with a slash), files deep down', async () => {
    const results = await repairSnapshots(repo, [damaged, intact, rootless], isLost, { dryRun: true });
    expect(results).toEqual([
      { snapshot: damaged.id, dropped: ['/broken', '/deep/x', '/vanished/'] },
      { snapshot: rootless.id, dropped: ['/'] },
    ]);
  });

  it('rewrites a damaged backup without what it cannot restore, tagged repaired, and forgets the damaged one', async () => {
    const [result] = await repairSnapshots(repo, [damaged], isLost);
    expect(result).toEqual({ snapshot: damaged.id, replacedBy: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown, dropped: ['/broken', '/deep/x', '/vanished/'] });
    expect(await adapter.stat(`snapshots/${damaged.id}`)).toBeUndefined();

    const reopened = await Repository.open(adapter, OPTIONS);
    const repaired = await reopened.loadSnapshot(result!.replacedBy!);
    const { id: _id, tree: _tree, tags: _tags, ...rest } = damaged;
    expect(repaired).toMatchObject(rest);
    expect(repaired.tags).toEqual(['nightly', 'repaired']);
    const root = await reopened.loadTree(repaired.tree);
    expect(names(root)).toEqual(['deep', 'docs', 'intact']);
    // An untouched directory keeps its tree; a rewritten one gets a new tree without the lost file.
    expect(root.find((n) => n.name.toString() === 'docs')!.subtree).toBe(ids.docs);
    const deep = root.find((n) => n.name.toString() === 'deep')!.subtree!;
    expect(deep).not.toBe(ids.deep);
    expect((await reopened.loadTree(deep)).map((n) => [n.name.toString(), n.content])).toEqual([['y', [ids.kept2]]]);
    // What is left restores: every blob it reaches reads.
    for (const id of [ids.kept1, ids.kept2, ids.kept3]) await expect(reopened.loadBlob(id)).resolves.toHaveLength(2100);
  });

  it('leaves a backup that reaches nothing lost untouched and out of the results', async () => {
    const before = await everything(adapter);
    expect(await repairSnapshots(repo, [intact], isLost)).toEqual([]);
    expect(await everything(adapter)).toEqual(before);
  });

  it('reports a backup whose root tree is lost as dropping everything, and neither rewrites nor forgets it', async () => {
    const before = await everything(adapter);
    expect(await repairSnapshots(repo, [rootless], isLost)).toEqual([{ snapshot: rootless.id, dropped: ['/'] }]);
    expect(await everything(adapter)).toEqual(before);
  });

  it('on a dry run, reports the same drops with no replacement and writes nothing', async () => {
    const before = await everything(adapter);
    const dry = await repairSnapshots(repo, [damaged, intact], isLost, { dryRun: true });
    expect(await everything(adapter)).toEqual(before);
    const real = await repairSnapshots(repo, [damaged, intact], isLost);
    expect(dry).toEqual(real.map(({ replacedBy: _replacedBy, ...r }) => r));
  });

  it('leaves only the other backups and the repaired one, which a second repair finds whole', async () => {
    const [result] = await repairSnapshots(repo, [damaged, intact], isLost);
    const reopened = await Repository.open(adapter, OPTIONS);
    const snapshots = await reopened.listSnapshots();
    expect(snapshots.map((s) => s.id).sort()).toEqual([intact.id, rootless.id, result!.replacedBy!].sort());
    expect(await reopened.loadSnapshot(intact.id)).toEqual(intact);
    const lostAfter = (id: string) => isLost(id) || !reopened.hasBlob(id);
    expect(await repairSnapshots(reopened, snapshots, lostAfter)).toEqual([{ snapshot: rootless.id, dropped: ['/'] }]);
  });
});
