import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkRepository, checkSnapshotStructure } from '../../src/repo/check.js';
import { packKey } from '../../src/repo/pack.js';
import { Repository } from '../../src/repo/repository.js';
import type { Snapshot } from '../../src/repo/snapshot.js';
import type { TreeNode } from '../../src/repo/tree-node.js';
import { readAll } from '../../src/storage/adapter.js';
import { createS3Adapter } from '../../src/storage/s3.js';
import { makeTempDir } from '../helpers/cli.js';
import { localAdapters } from '../helpers/local-adapters.js';
import { recording } from '../helpers/recording-adapter.js';
import { type S3Server, s3rverDestination, startS3Server } from '../helpers/s3-server.js';
import { treeNode as node } from '../helpers/tree-nodes.js';

const localAdapter = localAdapters();

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Flushes the repository and saves a snapshot of `root`. */
async function snapshotOf(repo: Repository, root: string): Promise<Snapshot> {
  await repo.flush();
  const summary = { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, storedBytes: 0 };
  const id = await repo.saveSnapshot({
    time: new Date().toISOString(),
    tree: root,
    paths: ['/'],
    hostname: 'h',
    username: 'u',
    source: 's',
    strategy: 'full',
    tags: [],
    startTime: '',
    endTime: '',
    summary,
    programVersion: 't',
  });
  return repo.loadSnapshot(id);
}

describe('checkSnapshotStructure', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-check-');
  });
  afterEach(() => tmp.cleanup());

  /**
   * / holds directories d0..d{n-1}, each a file and a subdirectory with one more file: three
   * levels of trees, all in one pack. The file in d{unstored}/sub names a blob never stored.
   */
  async function backup(repo: Repository, dirs: number, unstored = -1): Promise<{ snapshot: Snapshot; trees: Map<string, string> }> {
    const trees = new Map<string, string>();
    const file = async (name: string) => {
      const data = randomBytes(100);
      await repo.saveBlob('data', sha(data), data);
      return node(name, { size: 100, content: [sha(data)] });
    };
    const top: TreeNode[] = [];
    for (let d = 0; d < dirs; d++) {
      const inner = await repo.saveTree([d === unstored ? node('g', { size: 1, content: ['ab'.repeat(32)] }) : await file('g')]);
      trees.set(`/d${d}/sub`, inner);
      const dir = await repo.saveTree([await file('f'), node('sub', { type: 'dir', mode: 0o755, subtree: inner })]);
      trees.set(`/d${d}`, dir);
      top.push(node(`d${d}`, { type: 'dir', mode: 0o755, subtree: dir }));
    }
    return { snapshot: await snapshotOf(repo, await repo.saveTree(top)), trees };
  }

  /** What `run` gives, and how many trees JSON.parse decoded meanwhile. */
  async function decoding<T>(run: () => Promise<T>): Promise<{ result: T; decoded: number }> {
    const json = JSON.parse;
    let decoded = 0;
    JSON.parse = ((text: string, ...rest: []) => {
      if (text.startsWith('{"version":1,"nodes":')) decoded++;
      return json(text, ...rest);
    }) as typeof JSON.parse;
    try {
      return { result: await run(), decoded };
    } finally {
      JSON.parse = json;
    }
  }

  it('finds nothing wrong in an intact backup, reading every level of trees', async () => {
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const { snapshot } = await backup(repo, 30);
    expect(await checkSnapshotStructure(repo, snapshot)).toEqual([]);
  });

  it('names a damaged tree by its path and still checks the trees beside it and the data under them', async () => {
    const adapter = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const repo = await Repository.create(adapter, { password: 'pw' });
    const { snapshot, trees } = await backup(repo, 6, 4);
    // Damage the tree of /d2 (its record, inside the pack that holds every tree).
    const damaged = repo.lookupBlob(trees.get('/d2')!)!;
    const packPath = join(tmp.path, 'repo', 'data', damaged.packId.slice(0, 2), damaged.packId);
    const pack = await readFile(packPath);
    pack[damaged.offset + (damaged.length >> 1)]! ^= 0xff;
    await writeFile(packPath, pack);
    const reopened = await Repository.open(adapter, { password: 'pw' });
    const problems = await checkSnapshotStructure(reopened, snapshot);
    // The trees after /d2 in its pack were read one by one: the blob missing under /d4/sub is found.
    expect(problems).toHaveLength(2);
    expect(problems).toContainEqual(expect.stringMatching(/^\/d2: .*damaged/));
    expect(problems).toContainEqual(expect.stringMatching(/^\/d4\/sub\/g: blob abababababab is not in the index$/));
  });

  it('does not read again the trees a backup took from its parent, unless a pack the index names is missing', async () => {
    const adapter = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const repo = await Repository.create(adapter, { password: 'pw' });
    const { snapshot, trees } = await backup(repo, 6, 4);
    // A blob in a pack of its own, which the snapshot does not reach.
    const extra = randomBytes(100);
    await repo.saveBlob('data', sha(extra), extra);
    await repo.flush();
    const damaged = repo.lookupBlob(trees.get('/d2')!)!;
    const packPath = (id: string) => join(tmp.path, 'repo', 'data', id.slice(0, 2), id);
    const pack = await readFile(packPath(damaged.packId));
    pack[damaged.offset + (damaged.length >> 1)]! ^= 0xff;
    await writeFile(packPath(damaged.packId), pack);
    // /d2 and /d4 were taken whole from the parent: neither is read, nor anything below them.
    const reusedTrees = new Set([trees.get('/d2')!, trees.get('/d4')!]);
    expect(await checkSnapshotStructure(await Repository.open(adapter, { password: 'pw' }), snapshot, { reusedTrees })).toEqual([]);
    // Without the pack of the extra blob, the index is not all stored: every tree is read.
    await rm(packPath(repo.lookupBlob(sha(extra))!.packId));
    const problems = await checkSnapshotStructure(await Repository.open(adapter, { password: 'pw' }), snapshot, { reusedTrees });
    expect(problems).toHaveLength(2);
    expect(problems).toContainEqual(expect.stringMatching(/^\/d2: .*damaged/));
    expect(problems).toContainEqual(expect.stringMatching(/^\/d4\/sub\/g: blob abababababab is not in the index$/));
  });

  it('reads the trees a backup wrote back without decoding them, and reads every tree when one of them does not read back', async () => {
    const adapter = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const repo = await Repository.create(adapter, { password: 'pw' });
    const { snapshot, trees } = await backup(repo, 6, 4);
    const written = new Set([trees.get('/d1')!, trees.get('/d1/sub')!, trees.get('/d4')!, trees.get('/d4/sub')!]);
    // Taken as the archiver made them: the blob never stored under /d4/sub is not looked for, and neither tree is decoded.
    const { result, decoded } = await decoding(async () => checkSnapshotStructure(await Repository.open(adapter, { password: 'pw' }), snapshot, { writtenTrees: written }));
    expect(result).toEqual([]);
    expect(decoded).toBe(1 + 6 + 6 - 4);
    // Damaged in storage: it does not read back, so every tree is read, and the damage named by its path.
    const damaged = repo.lookupBlob(trees.get('/d1/sub')!)!;
    const packPath = join(tmp.path, 'repo', 'data', damaged.packId.slice(0, 2), damaged.packId);
    const pack = await readFile(packPath);
    pack[damaged.offset + (damaged.length >> 1)]! ^= 0xff;
    await writeFile(packPath, pack);
    const problems = await checkSnapshotStructure(await Repository.open(adapter, { password: 'pw' }), snapshot, { writtenTrees: written });
    expect(problems).toHaveLength(2);
    expect(problems).toContainEqual(expect.stringMatching(/^\/d1\/sub: .*damaged/));
    expect(problems).toContainEqual(expect.stringMatching(/^\/d4\/sub\/g: blob abababababab is not in the index$/));
  });

  it('takes a written tree that a file with its very bytes gave its blob, stored as data, as read back', async () => {
    const adapter = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const repo = await Repository.create(adapter, { password: 'pw' });
    const emptyTree = Buffer.from('{"version":1,"nodes":[]}');
    await repo.saveBlob('data', sha(emptyTree), emptyTree);
    const empty = await repo.saveTree([]);
    expect(empty).toBe(sha(emptyTree));
    const root = await repo.saveTree([node('empty', { type: 'dir', mode: 0o755, subtree: empty }), node('file', { size: emptyTree.length, content: [empty] })]);
    const snapshot = await snapshotOf(repo, root);
    const reopened = await Repository.open(adapter, { password: 'pw' });
    expect(reopened.lookupBlob(empty)?.type).toBe('data');
    // Only the root is decoded.
    expect(await decoding(() => checkSnapshotStructure(reopened, snapshot, { writtenTrees: new Set([empty]) }))).toEqual({ result: [], decoded: 1 });
  });

  describe('from a remote destination (s3rver)', () => {
    let s3: S3Server;
    beforeAll(async () => {
      s3 = await startS3Server('check');
    }, 30_000);
    afterAll(() => s3?.stop());
    const s3Adapter = () => recording(createS3Adapter('offsite', s3rverDestination(s3, `run-${randomBytes(4).toString('hex')}`)));

    it('downloads each tree pack once, whole, however many levels of trees lie in it', async () => {
      const adapter = s3Adapter();
      const repo = await Repository.create(adapter, { password: 'pw' });
      const { snapshot, trees } = await backup(repo, 30);
      const treePack = packKey(repo.lookupBlob(snapshot.tree)!.packId);
      expect(new Set([...trees.values()].map((id) => repo.lookupBlob(id)!.packId))).toEqual(new Set([repo.lookupBlob(snapshot.tree)!.packId]));
      const reopened = await Repository.open(adapter, { password: 'pw' });
      adapter.gets.length = 0;
      expect(await checkSnapshotStructure(reopened, snapshot)).toEqual([]);
      // Three levels of trees in one pack: one request for all of them, where each level read its own span.
      expect(adapter.gets.filter((g) => g.key.startsWith('data/'))).toEqual([{ key: treePack, range: undefined }]);
    });

    it('still names a damaged tree by its path, and checks the trees beside it and the data under them', async () => {
      const adapter = s3Adapter();
      const repo = await Repository.create(adapter, { password: 'pw' });
      const { snapshot, trees } = await backup(repo, 6, 4);
      const damaged = repo.lookupBlob(trees.get('/d2')!)!;
      const pack = await readAll(await adapter.get(packKey(damaged.packId)));
      pack[damaged.offset + (damaged.length >> 1)]! ^= 0xff;
      await adapter.put(packKey(damaged.packId), pack);
      const problems = await checkSnapshotStructure(await Repository.open(adapter, { password: 'pw' }), snapshot);
      expect(problems).toHaveLength(2);
      expect(problems).toContainEqual(expect.stringMatching(/^\/d2: .*damaged/));
      expect(problems).toContainEqual(expect.stringMatching(/^\/d4\/sub\/g: blob abababababab is not in the index$/));
    });
  });

  it('names a file whose recorded size is not the length of its content, as checkRepository does', async () => {
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const data = randomBytes(100);
    await repo.saveBlob('data', sha(data), data);
    const sub = await repo.saveTree([node('grown', { size: 40, content: [sha(data), sha(data)] })]);
    // As a bkdr that recorded the stat's size wrote a file that shrank (or grew) while it was read.
    const root = await repo.saveTree([
      node('shrunk', { size: 400, content: [sha(data)] }),
      node('intact', { size: 100, content: [sha(data)] }),
      node('empty', { size: 0, content: [] }),
      node('sub', { type: 'dir', mode: 0o755, subtree: sub }),
    ]);
    const snapshot = await snapshotOf(repo, root);
    expect((await checkSnapshotStructure(repo, snapshot)).sort()).toEqual([
      '/shrunk: the backup records 400 bytes, its content holds 100',
      '/sub/grown: the backup records 40 bytes, its content holds 200',
    ]);
    const report = await checkRepository(repo, [snapshot]);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'file-size', message: expect.stringMatching(/^2 files record another size than their content holds/) as unknown })]);
    expect(report.affected.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { snapshot: snapshot.id, path: '/shrunk', reason: 'the backup records 400 bytes, its content holds 100' },
      { snapshot: snapshot.id, path: '/sub/grown', reason: 'the backup records 40 bytes, its content holds 200' },
    ]);
  });
});
