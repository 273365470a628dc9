import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, link, mkdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirCache, type DirCacheEntry } from '../../src/backup/dir-cache.js';
import { type ArchiveResult, type ArchiveTarget, archiveFiles } from '../../src/backup/files-archiver.js';
import { checkSnapshotStructure } from '../../src/repo/check.js';
import { Repository } from '../../src/repo/repository.js';
import type { Snapshot } from '../../src/repo/snapshot.js';
import { makeTempDir } from '../helpers/cli.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();
const identity = { repository: 'r1', key: 'k1' };

function entry(tree: string, children: string[] = [], nodes = 3): DirCacheEntry {
  const nodeDigests = Buffer.alloc(16 * nodes);
  for (let i = 0; i < nodeDigests.length; i++) nodeDigests[i] = (i * 31 + tree.charCodeAt(0)) & 0xff;
  return { digest: Buffer.alloc(32, 7), rules: 'ab'.repeat(32), tree, files: 3, regularFiles: 2, bytes: 1.5e12, dataBlobs: 9, children, nodeDigests };
}

/** The cache in `file` once a walk saved one entry (/src, tree a…), opened for the next walk. */
async function reopenedAfterOneSave(file: string): Promise<DirCache> {
  const first = await DirCache.open(file, identity, new Set());
  first.keep(Buffer.from('/src'), entry('a'.repeat(64)));
  await first.save(['i1']);
  return DirCache.open(file, identity, new Set(['i1']));
}

describe('DirCache', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-dircache-');
  });
  afterEach(() => tmp.cleanup());

  it('gives back what a walk kept, for the tree it names only', async () => {
    const file = join(tmp.path, 'cache', 'one');
    const cache = await DirCache.open(file, identity, new Set());
    const kept = entry('a'.repeat(64), ['b'.repeat(64), 'c'.repeat(64)]);
    cache.keep(Buffer.from('/src'), kept);
    // Names are bytes, not always UTF-8.
    cache.keep(Buffer.from([0x2f, 0xff, 0x01]), entry('d'.repeat(64), [], 0));
    await cache.save(['i1', 'i2']);
    const again = await DirCache.open(file, identity, new Set(['i1', 'i2', 'i3']));
    expect(again.lookup(Buffer.from('/src'), 'a'.repeat(64))).toEqual(kept);
    expect(again.lookup(Buffer.from([0x2f, 0xff, 0x01]), 'd'.repeat(64))).toEqual(entry('d'.repeat(64), [], 0));
    // Another tree there in the parent snapshot: not this entry's.
    expect(again.lookup(Buffer.from('/src'), 'e'.repeat(64))).toBeUndefined();
    expect(again.lookup(Buffer.from('/other'), 'a'.repeat(64))).toBeUndefined();
  });

  it('gives back every entry of a walk whose entries fill many chunks, one of them larger than a chunk', async () => {
    const file = join(tmp.path, 'many');
    const cache = await DirCache.open(file, identity, new Set());
    const id = (n: number) => n.toString(16).padStart(64, '0');
    const kept: [string, DirCacheEntry][] = Array.from({ length: 2000 }, (_, i) => [`/src/d${i}`, entry(id(i), [id(i + 1e6), id(i + 2e6)])]);
    // 3 000 subdirectories: a record of 96 KiB, past the 64 KiB chunks records are written into.
    const wide = entry(
      id(9e6),
      Array.from({ length: 3000 }, (_, c) => id(c + 3e6)),
    );
    kept.splice(1000, 0, ['/src', wide]);
    for (const [dir, e] of kept) cache.keep(Buffer.from(dir), e);
    expect(cache.keptEntries).toBe(2001);
    // Full chunks went to a file beside the cache as they filled.
    expect(readdirSync(tmp.path)).toEqual([expect.stringMatching(new RegExp(`^many\\.kept-${process.pid}-[0-9a-f]{8}$`))]);
    await cache.save(['i1']);
    expect(readdirSync(tmp.path)).toEqual(['many']);
    const again = await DirCache.open(file, identity, new Set(['i1']));
    for (const [dir, e] of kept) expect(again.lookup(Buffer.from(dir), e.tree)).toEqual(e);
    await expect(cache.save(['i1'])).rejects.toThrow('directory cache: saved already');
  });

  it('leaves no file of what a walk kept once it is discarded, or when its run was killed', async () => {
    const file = join(tmp.path, 'one');
    const cache = await reopenedAfterOneSave(file);
    for (let i = 0; i < 2000; i++) cache.keep(Buffer.from(`/src/d${i}`), entry('b'.repeat(64), ['c'.repeat(64)]));
    cache.discard();
    cache.discard();
    expect(readdirSync(tmp.path)).toEqual(['one']);
    // Discarded, it cannot be saved: that would write what it no longer has over the cache.
    await expect(cache.save(['i1'])).rejects.toThrow('directory cache: discarded');
    // Killed runs' files (a pid that is gone) go at the next open; a live run's stay.
    const dead = spawnSync('true').pid!;
    for (const name of [`one.kept-${dead}-0badf00d`, `one.saving-${dead}-00000001`, `one.kept-${process.ppid}-0badf00d`, `other.kept-${dead}-0badf00d`, `one.kept-${dead}`])
      writeFileSync(join(tmp.path, name), 'x');
    const next = await DirCache.open(file, identity, new Set(['i1']));
    expect(readdirSync(tmp.path).sort()).toEqual(['one', `one.kept-${dead}`, `one.kept-${process.ppid}-0badf00d`, `other.kept-${dead}-0badf00d`].sort());
    // The cache itself as the first walk saved it.
    expect(next.lookup(Buffer.from('/src'), 'a'.repeat(64))).toEqual(entry('a'.repeat(64)));
  });

  it('fails its save, not the walk, when an entry cannot be written, and the file it had stays as it was', async () => {
    const file = join(tmp.path, 'kept');
    const cache = await reopenedAfterOneSave(file);
    expect(() => cache.keep(Buffer.from('/bad'), entry('not an id'))).not.toThrow();
    cache.keep(Buffer.from('/src'), entry('b'.repeat(64)));
    await expect(cache.save(['i1'])).rejects.toThrow('directory cache: not an id: not an id');
    expect((await DirCache.open(file, identity, new Set(['i1']))).lookup(Buffer.from('/src'), 'a'.repeat(64))).toEqual(entry('a'.repeat(64)));
  });

  it('is empty when absent, damaged, of another repository or configuration, or once an index file it knew is gone', async () => {
    const file = join(tmp.path, 'one');
    const tree = 'a'.repeat(64);
    const holds = async (id = identity, indexFiles = ['i1', 'i2']) => (await DirCache.open(file, id, new Set(indexFiles))).lookup(Buffer.from('/src'), tree) !== undefined;
    expect(await holds()).toBe(false);
    const cache = await DirCache.open(file, identity, new Set());
    cache.keep(Buffer.from('/src'), entry(tree));
    await cache.save(['i1', 'i2']);
    expect(await holds()).toBe(true);
    expect(await holds({ ...identity, repository: 'r2' })).toBe(false);
    expect(await holds({ ...identity, key: 'k2' })).toBe(false);
    // Prune and repair rewrite the index: a blob a cached tree reaches may be gone.
    expect(await holds(identity, ['i1', 'i3'])).toBe(false);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 1));
    expect(await holds()).toBe(false);
    bytes[bytes.length - 40]! ^= 1;
    writeFileSync(file, bytes);
    expect(await holds()).toBe(false);
  });
});

describe('archiveFiles with a directory cache', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-dircache-walk-');
  });
  afterEach(() => tmp.cleanup());

  async function setUp() {
    const src = join(tmp.path, 'src');
    await mkdir(join(src, 'a', 'deep', 'er'), { recursive: true });
    await mkdir(join(src, 'b'), { recursive: true });
    await mkdir(join(src, 'empty'), { recursive: true });
    await writeFile(join(src, 'top'), 'top file');
    await writeFile(join(src, 'a', 'deep', 'er', 'leaf'), 'leaf content');
    await writeFile(join(src, 'a', 'deep', 'er', 'large'), Buffer.alloc(3 << 20, 'x'));
    await writeFile(join(src, 'b', 'one'), 'one');
    await link(join(src, 'b', 'one'), join(src, 'b', 'hard'));
    await symlink('../top', join(src, 'b', 'link'));
    const repo = await Repository.create(localAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    let treeReads = 0;
    const target: ArchiveTarget = {
      chunker: () => repo.chunker(),
      hasBlob: (id) => repo.hasBlob(id),
      saveBlob: (...args) => repo.saveBlob(...args),
      saveBlobs: (...args) => repo.saveBlobs(...args),
      saveMadeBlobs: (...args) => repo.saveMadeBlobs(...args),
      saveTree: (...args) => repo.saveTree(...args),
      loadBlob: (id) => (treeReads++, repo.loadBlob(id)),
      loadTrees: (ids, ...rest) => ((treeReads += ids.length), repo.loadTrees(ids, ...rest)),
    };
    const cacheFile = join(tmp.path, 'cache');
    /** One walk; `cached`: with the cache the last cached walk saved, saving its own for the next. */
    /** The source directory's tree: those above hold the repository and the cache, which each walk changes. */
    const sourceTree = async (root: string) => {
      let id = root;
      for (const name of src.split('/').filter(Boolean)) id = (await repo.loadTree(id)).find((n) => n.name.toString() === name)!.subtree!;
      return id;
    };
    const archive = async (parentTree: string | undefined, cached: boolean): Promise<ArchiveResult & { source: string; reused: number; reusedNodes: number; treeReads: number }> => {
      treeReads = 0;
      const dirCache = cached ? await DirCache.open(cacheFile, identity, repo.indexFileIds) : undefined;
      const result = await archiveFiles({ repo: target, paths: [src], exclude: ['**/*.skip'], oneFileSystem: false, parentTree, dirCache });
      const reads = treeReads;
      await repo.flush();
      await dirCache?.save(repo.indexFileIds);
      return { ...result, source: await sourceTree(result.tree), reused: dirCache?.reused ?? 0, reusedNodes: dirCache?.reusedNodes ?? 0, treeReads: reads };
    };
    return { src, repo, archive };
  }

  const counts = (r: ArchiveResult) => ({ files: r.files, dirs: r.dirs, bytes: r.bytes, unchanged: r.unchangedFiles, changed: r.changedFiles, new: r.newFiles, dataBlobs: r.dataBlobs });

  it('takes every unchanged directory’s tree whole, reading no parent tree, and counts as the walk without it does', async () => {
    const { src, archive } = await setUp();
    const first = await archive(undefined, true);
    const cached = await archive(first.tree, true);
    const compared = await archive(first.tree, false);
    expect(cached.source).toBe(first.source);
    expect(compared.source).toBe(first.source);
    // The source's directory and the five below it; the directories above it are no listing's to cache (the walk's trie).
    expect(cached.reused).toBe(6);
    // The listings above the source, which the walk compares as ever, and each tree taken, read back once (not decoded).
    expect(cached.treeReads).toBe(src.split('/').filter(Boolean).length + cached.reused);
    expect(compared.treeReads).toBeGreaterThan(0);
    expect(counts(cached)).toEqual(counts(compared));
    expect(cached.reusedTrees).toEqual(compared.reusedTrees);
    // And again, from the entries the cached walk kept.
    expect((await archive(cached.tree, true)).reused).toBe(6);
  });

  it('takes a directory of thousands of entries whole too, and those above it', async () => {
    const { src, archive } = await setUp();
    // Like /usr/share/doc: a directory without a digest is compared entry by entry in every run, and so is each above it.
    for (let i = 0; i < 5000; i++) writeFileSync(join(src, 'a', 'deep', `f${i}`), `${i}`);
    const first = await archive(undefined, true);
    const cached = await archive(first.tree, true);
    expect(cached.source).toBe(first.source);
    expect(cached.reused).toBe(6);
    // The 5,000, and top, leaf, large, one and its hard link.
    expect(cached).toMatchObject({ newFiles: 0, changedFiles: 0, unchangedFiles: 5005 });
  });

  it('stores the tree the walk without it stores after every kind of change, however deep', async () => {
    const { src, archive } = await setUp();
    let parent = await archive(undefined, true);
    const leaf = join(src, 'a', 'deep', 'er', 'leaf');
    const changes: [string, () => Promise<unknown>][] = [
      [
        'content of the same size, its mtime put back',
        async () => {
          const before = await stat(leaf);
          await writeFile(leaf, 'LEAF CONTENT');
          await utimes(leaf, before.atime, before.mtime);
        },
      ],
      ['a new file deep down', () => writeFile(join(src, 'a', 'deep', 'er', 'new'), 'new')],
      ['a mode', () => chmod(join(src, 'a', 'deep'), 0o700)],
      ['a symlink’s target', async () => (await rm(join(src, 'b', 'link')), await symlink('../a', join(src, 'b', 'link')))],
      ['a file removed', () => rm(join(src, 'b', 'one'))],
      ['a newly excluded name', () => writeFile(join(src, 'a', 'deep', 'x.skip'), '')],
      ['an access time only', () => readFile(join(src, 'b', 'hard'))],
    ];
    for (const [what, change] of changes) {
      await change();
      const compared = await archive(parent.tree, false);
      const cached = await archive(parent.tree, true);
      expect(cached.source, what).toBe(compared.source);
      expect(counts(cached), what).toEqual(counts(compared));
      if (what !== 'an access time only' && what !== 'a newly excluded name') expect(cached.source, what).not.toBe(parent.source);
      parent = cached;
    }
  });

  it('stores the unchanged entries of a changed directory as their nodes were, and the tree the walk without it stores', async () => {
    const { src, archive } = await setUp();
    const wide = join(src, 'wide');
    await mkdir(wide);
    for (let i = 0; i < 40; i++) await writeFile(join(wide, `f${i}`), `file ${i}`);
    await writeFile(join(wide, 'empty'), '');
    await writeFile(join(wide, 'big'), Buffer.alloc(3 << 20, 'y'));
    await symlink('f0', join(wide, 'link'));
    await mkdir(join(wide, 'sub'));
    const first = await archive(undefined, true);
    // One of each change: content, a new file, one gone, a mode, a symlink's target, a hard link (both ends change).
    await writeFile(join(wide, 'f1'), 'changed 1');
    await writeFile(join(wide, 'new'), 'new');
    await rm(join(wide, 'f2'));
    await chmod(join(wide, 'f3'), 0o600);
    await rm(join(wide, 'link'));
    await symlink('f4', join(wide, 'link'));
    await link(join(wide, 'f5'), join(wide, 'f5-hard'));
    const compared = await archive(first.tree, false);
    const cached = await archive(first.tree, true);
    expect(cached.source).toBe(compared.source);
    expect(counts(cached)).toEqual(counts(compared));
    // wide's f0, f4, f6..f39, empty and big (38), not sub (a directory) nor the changed; and top, beside wide (its mtime moved).
    expect(cached.reusedNodes).toBe(39);
    // And from the entries that walk kept: one more change, the rest as they were.
    await writeFile(join(wide, 'f6'), 'changed 6');
    const again = await archive(cached.tree, true);
    expect(again.source).toBe((await archive(cached.tree, false)).source);
    // All of wide's 44 but sub and f6, and top.
    expect(again.reusedNodes).toBe(44);
  });

  it('follows a changed .bkdrignore into directories whose own listings did not change', async () => {
    const { src, repo, archive } = await setUp();
    await writeFile(join(src, '.bkdrignore'), 'leaf\n');
    const first = await archive(undefined, true);
    const names = async (tree: string, ...path: string[]) => {
      let nodes = await repo.loadTree(tree);
      for (const name of path) nodes = await repo.loadTree(nodes.find((n) => n.name.toString() === name)!.subtree!);
      return nodes.map((n) => n.name.toString());
    };
    expect(await names(first.source, 'a', 'deep', 'er')).toEqual(['large']);
    await writeFile(join(src, '.bkdrignore'), 'large\n');
    const cached = await archive(first.tree, true);
    expect(await names(cached.source, 'a', 'deep', 'er')).toEqual(['leaf']);
    expect(cached.source).toBe((await archive(first.tree, false)).source);
  });

  it('finds a tree damaged in storage since it was cached, as the check after a backup without the cache does', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(join(src, 'd'), { recursive: true });
    await writeFile(join(src, 'd', 'f'), 'x');
    const repoPath = join(tmp.path, 'repo');
    const cacheFile = join(tmp.path, 'cache');
    let repo = await Repository.create(localAdapter({ name: 'dest', path: repoPath }), { password: 'pw' });
    const backUp = async (parentTree: string | undefined, cached: boolean) => {
      const dirCache = cached ? await DirCache.open(cacheFile, identity, repo.indexFileIds) : undefined;
      const archived = await archiveFiles({ repo, paths: [src], exclude: [], oneFileSystem: false, parentTree, dirCache });
      await repo.flush();
      const problems = await checkSnapshotStructure(repo, { tree: archived.tree } as Snapshot, { reusedTrees: archived.reusedTrees });
      if (problems.length === 0) await dirCache?.save(repo.indexFileIds);
      return { tree: archived.tree, problems, reused: dirCache?.reused ?? 0 };
    };
    const first = await backUp(undefined, true);
    expect(first.problems).toEqual([]);
    // One byte of the leaf directory's tree flipped in its pack.
    let leaf = first.tree;
    for (const name of [...src.split('/').filter(Boolean), 'd']) leaf = (await repo.loadTree(leaf)).find((n) => n.name.toString() === name)!.subtree!;
    const at = repo.lookupBlob(leaf)!;
    const pack = join(repoPath, 'data', at.packId.slice(0, 2), at.packId);
    const bytes = await readFile(pack);
    bytes[at.offset + Math.floor(at.length / 2)]! ^= 0xff;
    await writeFile(pack, bytes);
    repo = await Repository.open(localAdapter({ name: 'dest', path: repoPath }), { password: 'pw' });
    const cached = await backUp(first.tree, true);
    expect(cached.reused).toBeGreaterThan(0);
    expect(cached.problems).toEqual([expect.stringMatching(/\/d: .*damaged/)]);
    expect(cached.problems).toEqual((await backUp(first.tree, false)).problems);
  });

  it('walks a directory of more subdirectories than are scanned ahead at once as the walk without the cache does', async () => {
    const { src, archive } = await setUp();
    // Three windows of scans taken ahead, the last one short.
    for (let i = 0; i < 70; i++) {
      await mkdir(join(src, 'many', `d${i}`), { recursive: true });
      await writeFile(join(src, 'many', `d${i}`, 'f'), `file ${i}`);
    }
    const first = await archive(undefined, true);
    await writeFile(join(src, 'many', 'd65', 'f'), 'changed');
    const cached = await archive(first.tree, true);
    const compared = await archive(first.tree, false);
    expect(cached.source).toBe(compared.source);
    expect(counts(cached)).toEqual(counts(compared));
    expect(counts(cached)).toMatchObject({ dirs: 6 + 71, changed: 1 });
  });
});
