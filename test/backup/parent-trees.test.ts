import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ParentTrees } from '../../src/backup/parent-trees.js';
import { Repository } from '../../src/repo/repository.js';
import { makeTempDir } from '../helpers/cli.js';
import { recording } from '../helpers/recording-adapter.js';
import { treeNode as node } from '../helpers/tree-nodes.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();

describe('ParentTrees', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-parents-');
  });
  afterEach(() => tmp.cleanup());

  /** A root of `n` directories, each with one file named after it; returns the root's and the directories' tree ids. */
  async function trees(repo: Repository, n: number): Promise<{ root: string; dirs: string[] }> {
    const dirs: string[] = [];
    for (let i = 0; i < n; i++) dirs.push(await repo.saveTree([node(`file-of-${i}`, { size: 0, content: [] })]));
    const root = await repo.saveTree(dirs.map((subtree, i) => node(`d${i}`, { type: 'dir', mode: 0o755, subtree })));
    await repo.flush();
    return { root, dirs };
  }

  it("reads a directory's subdirectory trees together, and hands each out once", async () => {
    const local = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const { root, dirs } = await trees(await Repository.create(local, { password: 'pw' }), 50);
    const counting = recording(local);
    const parents = new ParentTrees(await Repository.open(counting, { password: 'pw' }));
    counting.gets.length = 0;
    const top = await parents.load(root);
    expect(top?.byName.size).toBe(50);
    for (const [i, id] of dirs.entries()) expect([...(await parents.load(id))!.byName.values()].map((n) => n.name.toString())).toEqual([`file-of-${i}`]);
    // The root alone, then the 50 subdirectories in one span of their pack.
    expect(counting.gets.length).toBe(2);
    // Handed out once: a second load of the same tree reads it again.
    expect((await parents.load(dirs[0]!))?.byName.size).toBe(1);
    expect(counting.gets.length).toBe(3);
  });

  it("goes on reading a wide directory's subdirectories ahead as the walk takes them, past the first read's budget", async () => {
    const local = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const created = await Repository.create(local, { password: 'pw' });
    // 60 trees of about 120 KiB of plaintext, 7 MiB in all: the read-ahead budget holds about half.
    const children: string[] = [];
    for (let i = 0; i < 60; i++) {
      children.push(await created.saveTree(Array.from({ length: 400 }, (_, k) => node(`d${i}-${String(k).padStart(4, '0')}-${'x'.repeat(150)}`, { size: 0, content: [] }))));
    }
    const root = await created.saveTree(children.map((subtree, i) => node(`d${String(i).padStart(2, '0')}`, { type: 'dir', mode: 0o755, subtree })));
    await created.flush();
    const counting = recording(local);
    const parents = new ParentTrees(await Repository.open(counting, { password: 'pw' }));
    counting.gets.length = 0;
    await parents.load(root);
    for (const id of children) expect((await parents.load(id))?.byName.size).toBe(400);
    // The root, then reads of many trees each: 4 requests in all here. Read alone once the first read was spent, they took 44.
    expect(counting.gets.length).toBeGreaterThan(2);
    expect(counting.gets.length).toBeLessThanOrEqual(8);
  });

  it('reads a wide directory ahead past its first read while the walk goes into each subdirectory', async () => {
    const local = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const created = await Repository.create(local, { password: 'pw' });
    // 40 directories of about 120 KiB of plaintext each (more than the budget in all), each with 3 small subdirectories.
    const wide: { id: string; children: string[] }[] = [];
    for (let i = 0; i < 40; i++) {
      const children: string[] = [];
      for (let k = 0; k < 3; k++) children.push(await created.saveTree([node(`f-${i}-${k}`, { size: 0, content: [] })]));
      const files = Array.from({ length: 400 }, (_, f) => node(`d${i}-${String(f).padStart(4, '0')}-${'x'.repeat(150)}`, { size: 0, content: [] }));
      const dirs = children.map((subtree, k) => node(`s${k}`, { type: 'dir', mode: 0o755, subtree }));
      wide.push({ id: await created.saveTree([...files, ...dirs]), children });
    }
    const root = await created.saveTree(wide.map(({ id }, i) => node(`d${String(i).padStart(2, '0')}`, { type: 'dir', mode: 0o755, subtree: id })));
    await created.flush();
    const counting = recording(local);
    const parents = new ParentTrees(await Repository.open(counting, { password: 'pw' }));
    counting.gets.length = 0;
    await parents.load(root);
    // Depth first, as the archiver walks.
    for (const { id, children } of wide) {
      expect((await parents.load(id))?.byName.size).toBe(403);
      for (const child of children) expect((await parents.load(child))?.byName.size).toBe(1);
    }
    // The root, a few reads for the 40 directories, and one for each one's 3 subdirectories (which only it names):
    // 45 requests here, 64 when reading ahead stopped after the first read.
    expect(counting.gets.length).toBeLessThanOrEqual(48);
  });

  it('keeps no tree passed over while its read was under way', async () => {
    const local = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const { root, dirs } = await trees(await Repository.create(local, { password: 'pw' }), 5);
    const counting = recording(local);
    const parents = new ParentTrees(await Repository.open(counting, { password: 'pw' }));
    await parents.load(root);
    // The five are being read; the walk finds all but the first gone.
    parents.passOver(dirs.slice(1));
    expect((await parents.load(dirs[0]!))?.byName.size).toBe(1);
    counting.gets.length = 0;
    // Asked for after all, one is read again: it was dropped as its read landed, not kept.
    expect((await parents.load(dirs[3]!))?.byName.size).toBe(1);
    expect(counting.gets.length).toBe(1);
  });

  it('reads a damaged tree alone and gives nothing for it, and the trees beside it still come', async () => {
    const local = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const created = await Repository.create(local, { password: 'pw' });
    const { root, dirs } = await trees(created, 10);
    const damaged = created.lookupBlob(dirs[3]!)!;
    const packPath = join(tmp.path, 'repo', 'data', damaged.packId.slice(0, 2), damaged.packId);
    const pack = await readFile(packPath);
    pack[damaged.offset + (damaged.length >> 1)]! ^= 0xff;
    await writeFile(packPath, pack);
    const parents = new ParentTrees(await Repository.open(local, { password: 'pw' }));
    await parents.load(root);
    const loaded = await Promise.all(dirs.map((id) => parents.load(id)));
    expect(loaded.map((m) => m?.byName.size)).toEqual([1, 1, 1, undefined, 1, 1, 1, 1, 1, 1]);
    expect(createHash('sha256').update(pack).digest('hex')).not.toBe(damaged.packId);
  });

  it('drops the read-ahead trees the walk passes over, so later directories are still read ahead', async () => {
    const local = localAdapter({ name: 'dest', path: join(tmp.path, 'repo') });
    const created = await Repository.create(local, { password: 'pw' });
    // Trees of about 120 KiB of plaintext: 400 entries with long names.
    const bigTree = (tag: string) => created.saveTree(Array.from({ length: 400 }, (_, i) => node(`${tag}-${String(i).padStart(4, '0')}-${'x'.repeat(150)}`, { size: 0, content: [] })));
    const dir = async (tag: string, children: number) => {
      const ids: string[] = [];
      for (let i = 0; i < children; i++) ids.push(await bigTree(`${tag}${i}`));
      return { id: await created.saveTree(ids.map((subtree, i) => node(`${tag}${i}`, { type: 'dir', mode: 0o755, subtree }))), children: ids };
    };
    // a: more subdirectories than the read-ahead budget holds, never walked (deleted since); b: walked after.
    const a = await dir('a', 40);
    const b = await dir('b', 10);
    const root = await created.saveTree([node('a', { type: 'dir', mode: 0o755, subtree: a.id }), node('b', { type: 'dir', mode: 0o755, subtree: b.id })]);
    await created.flush();
    const counting = recording(local);
    const parents = new ParentTrees(await Repository.open(counting, { password: 'pw' }));
    await parents.load(root);
    await parents.load(a.id);
    // One of a's subdirectories, to wait for a's read-ahead; the rest are gone, and the walk says so.
    expect((await parents.load(a.children[0]!))?.byName.size).toBe(400);
    parents.passOver(a.children.slice(1));
    counting.gets.length = 0;
    await parents.load(b.id);
    for (const id of b.children) expect((await parents.load(id))?.byName.size).toBe(400);
    // b's ten subdirectories came in one read ahead, not one request each.
    expect(counting.gets.length).toBeLessThanOrEqual(2);
  });
});
