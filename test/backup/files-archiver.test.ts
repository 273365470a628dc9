import { randomBytes } from 'node:crypto';
import { appendFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { chmod, link, lutimes, mkdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ArchiveTarget, archiveFiles, SCAN_STAT_MAX } from '../../src/backup/files-archiver.js';
import { checkSnapshotStructure } from '../../src/repo/check.js';
import { Repository } from '../../src/repo/repository.js';
import { sha256Hex } from '../../src/core/ids.js';
import { serializeTree } from '../../src/repo/tree.js';
import type { TreeNode } from '../../src/repo/tree-node.js';
import { makeTempDir } from '../helpers/cli.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();

describe('archiveFiles', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-archiver-');
  });
  afterEach(() => tmp.cleanup());

  it("keeps the parent snapshot's tree of a directory nothing changed in, and writes the listing of one that changed", async () => {
    const src = join(tmp.path, 'src');
    for (const [dir, file] of [
      ['a', 'f1'],
      ['b', 'g1'],
      ['c', 'h1'],
    ] as const) {
      await mkdir(join(src, dir), { recursive: true });
      await writeFile(join(src, dir, file), `content of ${file}`);
    }
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    // The real repository, with the listings it is asked to save written down.
    let saved: string[][] = [];
    // Per listing saved, the names of the nodes written again as the parent snapshot's tree had them.
    let asStored: string[][] = [];
    const target: ArchiveTarget = {
      chunker: () => repo.chunker(),
      hasBlob: (id) => repo.hasBlob(id),
      saveBlob: (...args) => repo.saveBlob(...args),
      saveBlobs: (...args) => repo.saveBlobs(...args),
      saveMadeBlobs: (...args) => repo.saveMadeBlobs(...args),
      saveTree: async (nodes: TreeNode[], storedTexts) => {
        saved.push(nodes.map((n) => n.name.toString()).sort());
        asStored.push(nodes.filter((n) => storedTexts?.has(n)).map((n) => n.name.toString()));
        const id = await repo.saveTree(nodes, storedTexts);
        // The same bytes as the nodes serialized afresh.
        expect(id).toBe(sha256Hex(serializeTree(nodes)));
        return id;
      },
      loadBlob: (id) => repo.loadBlob(id),
      loadTrees: (...args) => repo.loadTrees(...args),
    };
    let reused: ReadonlySet<string> | undefined;
    const archive = async (parentTree?: string) => {
      saved = [];
      asStored = [];
      let tree: string;
      ({ tree, reusedTrees: reused } = await archiveFiles({ repo: target, paths: [src], exclude: [], oneFileSystem: false, parentTree }));
      await repo.flush();
      return tree;
    };
    const subtreeOf = async (tree: string, ...path: string[]) => {
      let id = tree;
      for (const name of path) id = (await repo.loadTree(id)).find((n) => n.name.toString() === name)!.subtree!;
      return id;
    };
    // Subdirectories are walked side by side: their listings come in any order.
    const leafListings = () => saved.filter((names) => names.some((n) => /^[fgh]1$/.test(n))).sort((x, y) => x.join().localeCompare(y.join()));

    const first = await archive();
    expect(leafListings()).toEqual([['f1'], ['g1'], ['h1']]);
    // Nothing changed: no listing below the source is serialized again (its own directory's
    // is, as the listing of its parent, which holds the repository and so changed).
    const second = await archive(first);
    expect(leafListings()).toEqual([]);
    expect(saved).not.toContainEqual(['a', 'b', 'c']);
    // What the structure check after the backup need not read again: the source's directory and those below it.
    const sourcePath = src.split('/').filter(Boolean);
    const sourceTree = await subtreeOf(second, ...sourcePath);
    expect(reused).toEqual(new Set([sourceTree, ...(await Promise.all(['a', 'b', 'c'].map((d) => subtreeOf(second, ...sourcePath, d))))]));

    await chmod(join(src, 'a', 'f1'), 0o600);
    const third = await archive(second);
    expect(leafListings()).toEqual([['f1']]);
    // The source's listing, saved again for a's new tree, writes b and c as they were stored.
    expect(asStored[saved.findIndex((names) => names.join() === 'a,b,c')]).toEqual(['b', 'c']);
    expect(reused).toEqual(new Set(await Promise.all(['b', 'c'].map((d) => subtreeOf(third, ...sourcePath, d)))));

    // An entry newly excluded changes the listing, though no file changed.
    await writeFile(join(src, 'c', '.bkdrignore'), 'h1\n');
    await archive(third);
    expect(leafListings().length).toBe(0);
    expect(saved).toContainEqual(['.bkdrignore']);
  });

  /**
   * The repository as an archive target whose load of the parent tree `held` calls `meanwhile`
   * first: the walk lists and stats a directory while its parent tree loads, and reads its
   * files after, so what `meanwhile` does to them falls between their stat and their read.
   */
  function holdingParent(repo: Repository, held: string, meanwhile: () => Promise<void>): ArchiveTarget {
    return {
      chunker: () => repo.chunker(),
      hasBlob: (id) => repo.hasBlob(id),
      saveBlob: (...args) => repo.saveBlob(...args),
      saveBlobs: (...args) => repo.saveBlobs(...args),
      saveMadeBlobs: (...args) => repo.saveMadeBlobs(...args),
      saveTree: (...args) => repo.saveTree(...args),
      loadBlob: async (id) => {
        if (id === held) await meanwhile();
        return repo.loadBlob(id);
      },
      loadTrees: (...args) => repo.loadTrees(...args),
    };
  }

  /** Long enough for the stat of a few files, started before the parent tree's load, to be over. */
  const statSettles = () => new Promise((resolve) => setTimeout(resolve, 50));

  it('records a file rewritten between its stat and its read as read, without a warning', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(src);
    await writeFile(join(src, 'kept'), 'kept');
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const first = await archiveFiles({ repo, paths: [src], exclude: [], oneFileSystem: false });
    await repo.flush();
    const sourcePath = src.split('/').filter(Boolean);
    // New since the parent, so read: a small file (read in a batch) and one above the chunker's minimum (streamed).
    await writeFile(join(src, 'small'), 'old content');
    await writeFile(join(src, 'large'), Buffer.alloc(600 * 1024, 1));
    const rewritten = 'new';
    const target = holdingParent(repo, await subtreeId(repo, first.tree, sourcePath), async () => {
      await statSettles();
      await writeFile(join(src, 'small'), rewritten);
      await writeFile(join(src, 'large'), Buffer.alloc(700 * 1024, 2));
    });
    const warnings: string[] = [];
    const second = await archiveFiles({ repo: target, paths: [src], exclude: [], oneFileSystem: false, parentTree: first.tree, onWarning: (path, message) => warnings.push(`${path}: ${message}`) });
    expect(warnings).toEqual([]);
    await repo.flush();
    const listing = await repo.loadTree(await subtreeId(repo, second.tree, sourcePath));
    const small = listing.find((n) => n.name.toString() === 'small')!;
    expect(small.size).toBe(rewritten.length);
    expect(Buffer.concat(await Promise.all(small.content!.map((id) => repo.loadBlob(id)))).toString()).toBe(rewritten);
    const large = listing.find((n) => n.name.toString() === 'large')!;
    expect(large.size).toBe(700 * 1024);
    expect(Buffer.concat(await Promise.all(large.content!.map((id) => repo.loadBlob(id))))).toEqual(Buffer.alloc(700 * 1024, 2));
  });

  /**
   * A large file that another process changes once its read has begun: the archiver reports
   * progress after the first chunk it stores, and `change` runs then, while the file is far
   * from read (the chunker reads 4 MiB at a time, one read ahead).
   */
  async function archiveChangedMidRead(change: (path: string) => void): Promise<{ node: TreeNode; stored: Buffer; warnings: string[]; original: Buffer }> {
    const src = join(tmp.path, 'src');
    await mkdir(src);
    const path = join(src, 'changing');
    const block = randomBytes(1024 * 1024);
    const original = Buffer.concat(Array.from({ length: 32 }, () => block));
    await writeFile(path, original);
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const warnings: string[] = [];
    let changed = false;
    const archived = await archiveFiles({
      repo,
      paths: [src],
      exclude: [],
      oneFileSystem: false,
      onProgress: (p) => {
        if (changed || p.bytesRead === 0) return;
        changed = true;
        expect(p.bytesRead).toBeLessThan(original.length / 2);
        change(path);
      },
      onWarning: (at, message) => warnings.push(`${at}: ${message}`),
    });
    expect(changed).toBe(true);
    await repo.flush();
    const node = (await repo.loadTree(await subtreeId(repo, archived.tree, src.split('/').filter(Boolean)))).find((n) => n.name.toString() === 'changing')!;
    expect(archived.bytes).toBe(node.size);
    // What a restore writes: the blobs, by the lengths the index has for them.
    expect(node.size).toBe(node.content!.reduce((sum, id) => sum + repo.lookupBlob(id)!.rawLength, 0));
    const stored = Buffer.concat(await Promise.all(node.content!.map((id) => repo.loadBlob(id))));
    const summary = { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, storedBytes: 0 };
    const id = await repo.saveSnapshot({
      time: new Date().toISOString(),
      tree: archived.tree,
      paths: [src],
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
    expect(await checkSnapshotStructure(repo, await repo.loadSnapshot(id))).toEqual([]);
    return { node, stored, warnings: warnings.map((w) => w.replace(`${path}: `, '')), original };
  }

  it('records a file truncated while it was read with the size of what it read, and warns', async () => {
    const { node, stored, warnings, original } = await archiveChangedMidRead((path) => truncateSync(path, 1024 * 1024));
    expect(warnings).toEqual(['file changed while it was read; the snapshot holds what was read']);
    // Read up to where the file ended once truncated: a prefix of what it held, past the truncation.
    expect(node.size).toBe(stored.length);
    expect(stored.length).toBeGreaterThanOrEqual(1024 * 1024);
    expect(stored.length).toBeLessThan(original.length);
    expect(stored.equals(original.subarray(0, stored.length))).toBe(true);
  });

  it('records a file that grew while it was read with the size of what it read, and warns', async () => {
    const appended = randomBytes(100_000);
    const { node, stored, warnings, original } = await archiveChangedMidRead((path) => appendFileSync(path, appended));
    expect(warnings).toEqual(['file changed while it was read; the snapshot holds what was read']);
    // The read goes on to the end of the file, wherever that is by then.
    expect(stored.equals(Buffer.concat([original, appended]))).toBe(true);
    expect(node.size).toBe(stored.length);
  });

  it('leaves out, without a warning, a file deleted between its stat and its read', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(src);
    await writeFile(join(src, 'kept'), 'kept');
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const first = await archiveFiles({ repo, paths: [src], exclude: [], oneFileSystem: false });
    await repo.flush();
    const sourcePath = src.split('/').filter(Boolean);
    await writeFile(join(src, 'small-gone'), 'small-gone');
    await writeFile(join(src, 'large-gone'), Buffer.alloc(600 * 1024, 3));
    const target = holdingParent(repo, await subtreeId(repo, first.tree, sourcePath), async () => {
      await statSettles();
      await rm(join(src, 'small-gone'));
      await rm(join(src, 'large-gone'));
    });
    const warnings: string[] = [];
    const archived = await archiveFiles({ repo: target, paths: [src], exclude: [], oneFileSystem: false, parentTree: first.tree, onWarning: (path, message) => warnings.push(`${path}: ${message}`) });
    expect(warnings).toEqual([]);
    expect(archived).toMatchObject({ files: 1, newFiles: 0, unchangedFiles: 1 });
    await repo.flush();
    const listing = await repo.loadTree(await subtreeId(repo, archived.tree, sourcePath));
    expect(listing.map((n) => n.name.toString())).toEqual(['kept']);
  });

  it("records a small directory (listed and stat'ed in one piece) and a large one (stat'ed in windows) alike, and a second run reuses both", async () => {
    const src = join(tmp.path, 'src');
    const names = (n: number) => Array.from({ length: n }, (_, i) => `f${String(i).padStart(4, '0')}`);
    const large = SCAN_STAT_MAX + 76;
    for (const [dir, count] of [
      ['small', 20],
      ['large', large],
    ] as const) {
      await mkdir(join(src, dir, 'sub'), { recursive: true });
      for (const name of names(count)) writeFileSync(join(src, dir, name), name);
      await symlink('f0001', join(src, dir, 'link'));
      // An atime after the mtime: a read of the link (the backup's) does not move it under relatime.
      await lutimes(join(src, dir, 'link'), new Date(), new Date(Date.now() - 60_000));
      // A name that is not UTF-8.
      await writeFile(Buffer.concat([Buffer.from(`${join(src, dir)}/`), Buffer.from([0xff, 0x41])]), 'x');
    }
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const first = await archiveFiles({ repo, paths: [src], exclude: ['**/f0003'], oneFileSystem: false });
    await repo.flush();
    const sourcePath = src.split('/').filter(Boolean);
    for (const [dir, count] of [
      ['small', 20],
      ['large', large],
    ] as const) {
      const listing = await repo.loadTree(await subtreeId(repo, first.tree, [...sourcePath, dir]));
      const expected = [...[...names(count).filter((n) => n !== 'f0003'), 'link', 'sub'].map((n) => Buffer.from(n)), Buffer.from([0xff, 0x41])].sort(Buffer.compare);
      expect(
        listing.map((n) => n.name.toString('hex')),
        dir,
      ).toEqual(expected.map((n) => n.toString('hex')));
      expect(listing.find((n) => n.name.toString() === 'link')).toMatchObject({ type: 'symlink', linkTarget: Buffer.from('f0001') });
      expect(listing.find((n) => n.name.toString() === 'f0010')).toMatchObject({ type: 'file', size: 5 });
    }
    const second = await archiveFiles({ repo, paths: [src], exclude: ['**/f0003'], oneFileSystem: false, parentTree: first.tree });
    await repo.flush();
    // Each directory: its files less the one excluded, and the one whose name is not UTF-8.
    expect(second).toMatchObject({ newFiles: 0, changedFiles: 0, unchangedFiles: 20 + large });
    expect(await subtreeId(repo, second.tree, sourcePath)).toBe(await subtreeId(repo, first.tree, sourcePath));
  });

  it("records each entry's mtime as its access time unless the source asks for access times, so a file read since the last backup leaves its directory's tree as it was", async () => {
    const src = join(tmp.path, 'src');
    const file = join(src, 'd', 'read-later');
    await mkdir(join(src, 'd'), { recursive: true });
    await writeFile(file, 'read between two backups');
    await writeFile(join(src, 'd', 'other'), 'never read');
    // An atime before the mtime: a read moves it under relatime too, not only strictatime.
    await utimes(file, new Date(Date.now() - 120_000), new Date(Date.now() - 60_000));
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const dirPath = [...src.split('/').filter(Boolean), 'd'];
    const archive = async (parentTree: string | undefined, withAtime: boolean) => {
      const { tree } = await archiveFiles({ repo, paths: [src], exclude: [], oneFileSystem: false, parentTree, withAtime });
      await repo.flush();
      return tree;
    };
    const recorded = async (tree: string) => (await repo.loadTree(await subtreeId(repo, tree, dirPath))).find((n) => n.name.toString() === 'read-later')!;

    const first = await archive(undefined, false);
    const stat = statSync(file, { bigint: true });
    expect(stat.atimeNs).toBeLessThan(stat.mtimeNs);
    expect((await recorded(first)).atimeNs).toBe(stat.mtimeNs);

    // Moves its atime, but on a noatime mount.
    await readFile(file);
    expect(statSync(file, { bigint: true }).atimeNs).toBeGreaterThanOrEqual(stat.atimeNs);
    const second = await archive(first, false);
    expect(await subtreeId(repo, second, dirPath)).toBe(await subtreeId(repo, first, dirPath));

    // Asked for, the access time is recorded as the file has it.
    const third = await archive(second, true);
    expect((await recorded(third)).atimeNs).toBe(statSync(file, { bigint: true }).atimeNs);
    expect(await subtreeId(repo, third, dirPath)).not.toBe(await subtreeId(repo, second, dirPath));
  });

  it('records the device of hard-linked files only, and takes a file whose device number changed (the file system mounted again) as unchanged', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(join(src, 'd'), { recursive: true });
    await writeFile(join(src, 'd', 'single'), 'one link');
    await writeFile(join(src, 'd', 'linked'), 'two links');
    await link(join(src, 'd', 'linked'), join(src, 'd', 'linked-too'));
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const dirPath = [...src.split('/').filter(Boolean), 'd'];
    const first = await archiveFiles({ repo, paths: [src], exclude: [], oneFileSystem: false });
    await repo.flush();
    const listing = await repo.loadTree(await subtreeId(repo, first.tree, dirPath));
    const dev = statSync(join(src, 'd', 'linked'), { bigint: true }).dev;
    expect(Object.fromEntries(listing.map((n) => [n.name.toString(), n.dev]))).toEqual({ single: 0n, linked: dev, 'linked-too': dev });
    const source = (await repo.loadTree(await subtreeId(repo, first.tree, dirPath.slice(0, -1)))).find((n) => n.name.toString() === 'd')!;
    expect(source.dev).toBe(0n);

    // The parent as a backup of the same files through another mount would record them: another device number.
    const elsewhere = async (tree: string): Promise<string> => {
      const nodes = await repo.loadTree(tree);
      for (const node of nodes) {
        node.dev = 12_345n;
        if (node.subtree) node.subtree = await elsewhere(node.subtree);
      }
      return repo.saveTree(nodes);
    };
    const parentTree = await elsewhere(first.tree);
    await repo.flush();
    const second = await archiveFiles({ repo, paths: [src], exclude: [], oneFileSystem: false, parentTree });
    expect(second).toMatchObject({ newFiles: 0, changedFiles: 0, unchangedFiles: 3 });
  });

  it('does not count as checked a directory taken from the parent when a tree below it could not be read from the parent', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(join(src, 'a', 'c'), { recursive: true });
    await writeFile(join(src, 'a', 'c', 'f'), 'f');
    await writeFile(join(src, 'b'), 'b');
    const adapter = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const repo = await Repository.create(adapter, { password: 'pw' });
    const first = await archiveFiles({ repo, paths: [src], exclude: [], oneFileSystem: false });
    await repo.flush();
    const sourcePath = src.split('/').filter(Boolean);
    const c = await subtreeId(repo, first.tree, [...sourcePath, 'a', 'c']);
    // The parent's tree of a/c is damaged in its pack: the walk reads a/c afresh, and finds the same id.
    const damaged = repo.lookupBlob(c)!;
    const packPath = join(tmp.path, 'repo', 'data', damaged.packId.slice(0, 2), damaged.packId);
    const pack = await readFile(packPath);
    pack[damaged.offset + (damaged.length >> 1)]! ^= 0xff;
    await writeFile(packPath, pack);
    const reopened = await Repository.open(adapter, { password: 'pw' });
    const second = await archiveFiles({ repo: reopened, paths: [src], exclude: [], oneFileSystem: false, parentTree: first.tree });
    await reopened.flush();
    // The source's tree (the trees above it record /tmp, which other tests write to).
    expect(await subtreeId(reopened, second.tree, sourcePath)).toBe(await subtreeId(repo, first.tree, sourcePath));
    // a/ and the source keep their parent's trees, but a/c's was not decoded in this run: neither counts as checked.
    expect(second.reusedTrees).toEqual(new Set());
    const summary = { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, storedBytes: 0 };
    const id = await reopened.saveSnapshot({
      time: new Date().toISOString(),
      tree: second.tree,
      paths: [src],
      hostname: 'h',
      username: 'u',
      source: 's',
      strategy: 'incremental',
      tags: [],
      startTime: '',
      endTime: '',
      summary,
      programVersion: 't',
    });
    const problems = await checkSnapshotStructure(reopened, await reopened.loadSnapshot(id), { reusedTrees: second.reusedTrees });
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${src}/a/c: .*damaged`))]);
  });

  it("fails with a subdirectory's failure once the directory's own files are stored, the walk having gone on meanwhile", async () => {
    // The source's large file is still being stored when s/, its only subdirectory, fails (its small files cannot
    // be stored) after it was walked: the failure waits, handled, until the source's directory has its files.
    const src = join(tmp.path, 'src');
    await mkdir(join(src, 's'), { recursive: true });
    await writeFile(join(src, 'big'), randomBytes(24 * 1024 * 1024));
    for (let i = 0; i < 20; i++) await writeFile(join(src, 's', `f${i}`), `small ${i}`);
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const failure = new Error('destination full');
    const target = slowChunks(repo, 50, () => Promise.reject(failure));
    const unhandled = await unhandledRejectionsDuring(async () => {
      await expect(archiveFiles({ repo: target, paths: [src], exclude: [], oneFileSystem: false })).rejects.toBe(failure);
    });
    expect(unhandled).toEqual([]);
  });

  it('stops on an interrupt with directories waiting aside, and leaves nothing running once it has failed', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(src);
    await writeFile(join(src, 'big'), randomBytes(16 * 1024 * 1024));
    for (let d = 0; d < 30; d++) {
      await mkdir(join(src, `d${d}`));
      for (let f = 0; f < 5; f++) await writeFile(join(src, `d${d}`, `f${f}`), `file ${d}/${f}`);
    }
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const interrupt = new AbortController();
    let batches = 0;
    const slow = slowChunks(repo, 20, async () => {
      // Interrupted once a few batches are stored: by then directories wait aside for theirs.
      if (++batches === 3) interrupt.abort();
    });
    // Every store, of a large file's chunk or of a batch: none may come once the walk has failed.
    let stores = 0;
    const target: ArchiveTarget = {
      ...slow,
      saveBlob: (...args) => (stores++, slow.saveBlob(...args)),
      saveBlobs: (...args) => (stores++, slow.saveBlobs(...args)),
      saveMadeBlobs: (...args) => (stores++, slow.saveMadeBlobs(...args)),
    };
    const unhandled = await unhandledRejectionsDuring(async () => {
      await expect(archiveFiles({ repo: target, paths: [src], exclude: [], oneFileSystem: false, signal: interrupt.signal })).rejects.toThrow('backup interrupted');
      const atFailure = stores;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(stores).toBe(atFailure);
    });
    expect(unhandled).toEqual([]);
  });
});

async function subtreeId(repo: Repository, tree: string, path: string[]): Promise<string> {
  let id = tree;
  for (const name of path) id = (await repo.loadTree(id)).find((n) => n.name.toString() === name)!.subtree!;
  return id;
}

/**
 * The repository, with each chunk of a large file stored `chunkDelayMs` late, and each batch of small files (however
 * it is stored: saveBlobs or saveMadeBlobs) stored once `beforeBatch` has resolved, not at all when it rejects.
 */
function slowChunks(repo: Repository, chunkDelayMs: number, beforeBatch: () => Promise<void>): ArchiveTarget {
  return {
    chunker: () => repo.chunker(),
    hasBlob: (id) => repo.hasBlob(id),
    saveBlob: async (...args) => {
      // Slow enough for the rest of the walk to run meanwhile.
      await new Promise((resolve) => setTimeout(resolve, chunkDelayMs));
      return repo.saveBlob(...args);
    },
    saveBlobs: async (...args) => (await beforeBatch(), repo.saveBlobs(...args)),
    saveMadeBlobs: async (...args) => (await beforeBatch(), repo.saveMadeBlobs(...args)),
    saveTree: (...args) => repo.saveTree(...args),
    loadBlob: (id) => repo.loadBlob(id),
    loadTrees: (...args) => repo.loadTrees(...args),
  };
}

/** The rejections left unhandled while `run` ran (and for a turn of the event loop after it). */
async function unhandledRejectionsDuring(run: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return unhandled;
}
