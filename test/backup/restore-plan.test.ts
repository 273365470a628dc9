import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planRestore, type RestorePlan, UnsafeBackupError } from '../../src/backup/restore-plan.js';
import { restoreTree, type RestoreOptions } from '../../src/backup/restorer.js';
import { OperationError, UsageError } from '../../src/core/errors.js';
import { Repository } from '../../src/repo/repository.js';
import type { TreeNode } from '../../src/repo/tree-node.js';
import { makeTempDir } from '../helpers/cli.js';
import { treeNode as node } from '../helpers/tree-nodes.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('planRestore', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let repo: Repository;
  /** Where the plan restores to: never created, planning writes nothing. */
  let target: string;
  /** Data blobs of 10, 20 and 30 bytes, by name. */
  let blob: Record<'ten' | 'twenty' | 'thirty', string>;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-restore-plan-');
    target = join(tmp.path, 'target');
    repo = await Repository.create(localAdapter({ name: 'test-dest', path: join(tmp.path, 'repo') }), { password: null });
    const save = async (length: number) => {
      const data = randomBytes(length);
      await repo.saveBlob('data', sha(data), data);
      return sha(data);
    };
    blob = { ten: await save(10), twenty: await save(20), thirty: await save(30) };
    await repo.flush();
  });
  afterEach(() => tmp.cleanup());

  const file = (name: string, extra: Partial<TreeNode> = {}) => node(name, { size: 10, content: [blob.ten], ...extra });
  const dir = (name: string, subtree: string) => node(name, { type: 'dir', mode: 0o755, subtree });
  /** A directory listing built by hand, stored as a tree blob; its id. */
  const tree = (nodes: TreeNode[]) => repo.saveTree(nodes);
  /** Flushes the trees saved (a restore reads them from packs), then plans. */
  const plan = async (root: string, opts: Partial<RestoreOptions> = {}): Promise<RestorePlan> => {
    await repo.flush();
    return planRestore({ repo, tree: root, target, ...opts }, Buffer.from(target));
  };
  /** A planned path relative to the target, as the snapshot has it. */
  const rel = (path: Buffer) => path.toString().slice(target.length);
  const paths = (entries: { path: Buffer }[]) => entries.map((e) => rel(e.path));

  it('plans every directory before its children, depth first in name order', async () => {
    const c = await tree([file('f')]);
    const b = await tree([dir('c', c), file('g')]);
    const empty = await tree([]);
    const root = await tree([dir('d', empty), dir('a', await tree([dir('b', b)])), file('top')]);
    const p = await plan(root);
    expect(paths(p.dirs)).toEqual(['/a', '/a/b', '/a/b/c', '/d']);
    expect(paths([...p.files])).toEqual(['/a/b/c/f', '/a/b/g', '/top']);
    for (const [i, d] of p.dirs.entries()) {
      const parent = rel(d.path).slice(0, rel(d.path).lastIndexOf('/'));
      if (parent) expect(paths(p.dirs.slice(0, i))).toContain(parent);
    }
    expect(existsSync(target)).toBe(false);
  });

  it("plans a file's blobs in content order and the length they hold; a one-blob file is created as its blob is written", async () => {
    const root = await tree([file('one'), file('three', { size: 60, content: [blob.thirty, blob.ten, blob.twenty] }), file('sparse', { sparse: true }), file('empty', { size: 0, content: [] })]);
    const p = await plan(root, { force: true });
    const byPath = new Map([...p.files].map((f) => [rel(f.path), f]));
    const blobsOf = (path: string) => {
      const f = byPath.get(path)!;
      return Array.from({ length: f.blobCount }, (_, k) => repo.blobEntries.locationAt(p.blobs.at(f.firstBlob + k)).id);
    };
    expect(blobsOf('/three')).toEqual([blob.thirty, blob.ten, blob.twenty]);
    expect(blobsOf('/one')).toEqual([blob.ten]);
    expect(blobsOf('/empty')).toEqual([]);
    expect([...byPath].map(([path, f]) => [path, f.size, f.createOnWrite, f.force])).toEqual([
      ['/empty', 0, false, true],
      ['/one', 10, true, true],
      ['/sparse', 10, false, true],
      ['/three', 60, false, true],
    ]);
    expect(p.sizeMismatches).toEqual([]);
  });

  it('plans the second and later paths of a hard link as links to the first path, with no blobs of their own', async () => {
    const linked = (name: string) => file(name, { nlink: 3, dev: 7n, inode: 42n, size: 20, content: [blob.twenty] });
    const sub = await tree([linked('second'), file('other', { nlink: 2, dev: 7n, inode: 43n })]);
    const root = await tree([linked('first'), dir('sub', sub), linked('third')]);
    const p = await plan(root);
    expect(paths([...p.files])).toEqual(['/first', '/sub/other']);
    expect(p.hardlinks.map((h) => [rel(h.path), rel(h.existing)])).toEqual([
      ['/sub/second', '/first'],
      ['/third', '/first'],
    ]);
    // One copy of the first path for all its links.
    expect(p.hardlinks[1]!.existing).toBe(p.hardlinks[0]!.existing);
    // Blobs for the two files only: 20 bytes once, and 10.
    expect(p.blobs.length).toBe(2);
  });

  it('plans a hard link whose first path is not included as a file at its first included path', async () => {
    const linked = (name: string) => file(name, { nlink: 2, dev: 7n, inode: 42n });
    const root = await tree([linked('a.skip'), linked('b.keep'), linked('c.keep')]);
    const p = await plan(root, { include: ['*.keep'] });
    expect(paths([...p.files])).toEqual(['/b.keep']);
    expect(p.hardlinks.map((h) => [rel(h.path), rel(h.existing)])).toEqual([['/c.keep', '/b.keep']]);
  });

  it('keeps symlinks and special files for later, in tree order, out of files and directories', async () => {
    const specials = [node('chr', { type: 'chardev', rdev: 0x0103n }), node('blk', { type: 'blockdev', rdev: 0x0801n }), node('pipe', { type: 'fifo' }), node('sock', { type: 'socket' })];
    const sub = await tree([node('up', { type: 'symlink', linkTarget: Buffer.from('..') }), ...specials]);
    const root = await tree([node('link', { type: 'symlink', linkTarget: Buffer.from('/etc/passwd') }), dir('sub', sub), file('plain')]);
    const p = await plan(root);
    expect(p.later.map((e) => [rel(e.path), e.node.type])).toEqual([
      ['/link', 'symlink'],
      ['/sub/blk', 'blockdev'],
      ['/sub/chr', 'chardev'],
      ['/sub/pipe', 'fifo'],
      ['/sub/sock', 'socket'],
      ['/sub/up', 'symlink'],
    ]);
    expect(p.later[0]!.node.linkTarget).toEqual(Buffer.from('/etc/passwd'));
    expect(paths([...p.files])).toEqual(['/plain']);
    expect(paths(p.dirs)).toEqual(['/sub']);
  });

  describe('refuses a backup that could write outside the target, before anything is written', () => {
    it.each([
      ['..', "'..'"],
      ['.', "'.'"],
      ['a/b', "'a/b'"],
      ['../../etc', "'../../etc'"],
      ['', "''"],
      ['nul\0byte', "'nul\\x00byte'"],
    ])('an entry named %j is an unsafe name, shown as %s', async (name, shown) => {
      const sub = await tree([file('fine'), file(name)]);
      const root = await tree([file('before'), dir('sub', sub)]);
      const err = await plan(root, { backupId: 'abcdef0123456789' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeBackupError);
      expect((err as Error).message).toBe(`backup abcdef01 holds an unsafe name ${shown} under /sub: nothing was restored`);
    });

    it.each([
      ['two files', () => [file('twice'), file('twice', { size: 20, content: [blob.twenty] })]],
      ['a symlink and a directory', () => [node('twice', { type: 'symlink', linkTarget: Buffer.from('/tmp') }), node('twice', { type: 'dir', mode: 0o755 })]],
    ])('a name listed twice (%s) in one directory', async (_, nodes) => {
      const root = await tree([file('a'), ...nodes(), file('z')]);
      const err = await plan(root).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeBackupError);
      expect((err as Error).message).toBe(`the backup with tree ${root.slice(0, 8)} lists the name 'twice' twice under /: nothing was restored`);
    });

    it.each([
      ['a mode written as a string', { mode: '644' }],
      ['a mode above 0o7777', { mode: 0o17777 }],
      ['no owner', { uid: null }],
      ['a negative group', { gid: -1 }],
      ['an owner that is not an integer', { uid: 1.5 }],
    ])('a file with %s', async (_, odd) => {
      const sub = await tree([file('fine'), file('odd', odd as unknown as Partial<TreeNode>)]);
      const root = await tree([dir('sub', sub)]);
      const err = await plan(root, { backupId: 'abcdef0123456789' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeBackupError);
      expect((err as Error).message).toBe(`backup abcdef01 records an invalid mode or owner for '/sub/odd': nothing was restored`);
    });

    it('restoreTree fails with it and leaves no target behind', async () => {
      const root = await tree([file('a'), dir('deep', await tree([file('..')]))]);
      await repo.flush();
      await expect(restoreTree({ repo, tree: root, target })).rejects.toThrow(UnsafeBackupError);
      expect(existsSync(target)).toBe(false);
    });
  });

  describe('with include patterns', () => {
    /** /docs/{a.md, b.txt, old/c.md}, /src/x.ts, /top.md */
    let root: string;
    beforeEach(async () => {
      const old = await tree([file('c.md')]);
      const docs = await tree([file('a.md'), file('b.txt'), dir('old', old)]);
      const src = await tree([file('x.ts')]);
      root = await tree([dir('docs', docs), dir('src', src), file('top.md')]);
    });

    it.each<[string[], string[]]>([
      [['*.md'], ['/docs/a.md', '/docs/old/c.md', '/top.md']],
      [['docs/*.md'], ['/docs/a.md']],
      [['/docs/*.md'], ['/docs/a.md']],
      [['/docs/**/*.md'], ['/docs/a.md', '/docs/old/c.md']],
      // A directory selected selects everything below it.
      [['docs'], ['/docs/a.md', '/docs/b.txt', '/docs/old/c.md']],
      [['/docs/old'], ['/docs/old/c.md']],
      [
        ['x.ts', '/top.md'],
        ['/src/x.ts', '/top.md'],
      ],
    ])('%j selects the files %j, and plans each directory leading to them before them', async (include, selected) => {
      const p = await plan(root, { include });
      expect(paths([...p.files])).toEqual(selected);
      const dirs = paths(p.dirs);
      for (const path of selected) {
        const leading = path.split('/').slice(1, -1);
        for (let i = 1; i <= leading.length; i++) expect(dirs).toContain(`/${leading.slice(0, i).join('/')}`);
      }
      expect(p.warnings).toEqual([]);
    });

    it.each<[string[], string[]]>([
      [['/docs/*.md'], ['/docs']],
      [['/docs/old/c.md'], ['/docs', '/docs/old']],
      [['/src/x.ts'], ['/src']],
      // Relative patterns match at any depth, and still create no directory that leads to nothing (as restic).
      [['docs/*.md'], ['/docs']],
      [['*.md'], ['/docs', '/docs/old']],
      [['x.ts'], ['/src']],
      [['docs'], ['/docs', '/docs/old']],
    ])('a pattern %j plans only the directories on its way: %j', async (include, dirs) => {
      expect(paths((await plan(root, { include })).dirs)).toEqual(dirs);
    });

    it('plans the directories above a selected file even when a brace group spanning a slash hides them from the segment match', async () => {
      const p = await plan(root, { include: ['/{docs/old,src}/c.md'] });
      expect(paths([...p.files])).toEqual(['/docs/old/c.md']);
      expect(paths(p.dirs)).toEqual(['/docs', '/docs/old']);
    });

    it('when no pattern matches anything, fails with a UsageError naming each pattern once', async () => {
      const err = await plan(root, { include: ['*.nope', 'docs/missing.txt', '*.nope'], backupId: '0123456789abcdef' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toBe("no path in backup 01234567 matches the include patterns '*.nope', 'docs/missing.txt': nothing was restored");
    });

    it('when some patterns match nothing, plans what the others select and warns, naming those that did not match', async () => {
      const p = await plan(root, { include: ['top.md', '*.nope'] });
      expect(paths([...p.files])).toEqual(['/top.md']);
      expect(p.warnings).toEqual([`no path in the backup with tree ${root.slice(0, 8)} matches the include pattern '*.nope'`]);
    });
  });

  /** A file node `f` with the size it records (undefined: none) and its content, by blob name. */
  const sized = (size: number | undefined, content: ('ten' | 'twenty')[] | undefined) => {
    const f = node('f', content ? { content: content.map((name) => blob[name]) } : {});
    if (size !== undefined) f.size = size;
    return f;
  };

  it.each<[string, number | undefined, ('ten' | 'twenty')[], number, number]>([
    ['fewer bytes than its content holds', 5, ['ten'], 5, 10],
    ['more bytes than its content holds', 999, ['ten', 'twenty'], 999, 30],
    ['no size, though it has content', undefined, ['ten'], 0, 10],
  ])('plans a file node that records %s with its content length, and lists it in sizeMismatches', async (_, size, content, recorded, length) => {
    const p = await plan(await tree([sized(size, content)]));
    expect([...p.files].map((f) => f.size)).toEqual([length]);
    expect(p.sizeMismatches.map((m) => [rel(p.files.path(m.file)), m.recorded, p.files.size(m.file)])).toEqual([['/f', recorded, length]]);
  });

  it.each<[string, number | undefined, ('ten' | 'twenty')[] | undefined, number]>([
    ['the length of its content', 30, ['ten', 'twenty'], 30],
    ['no size and has no content', undefined, undefined, 0],
  ])('lists no size mismatch for a file node that records %s', async (_, size, content, length) => {
    const p = await plan(await tree([sized(size, content)]));
    expect([...p.files].map((f) => f.size)).toEqual([length]);
    expect(p.sizeMismatches).toEqual([]);
  });

  it("holds the paths and names of directories, links and special files in shared slabs, not one of Buffer's pools each", async () => {
    // Each directory's files take more than a pool's 8 KiB of paths: each directory path made then would keep its own pool alive.
    const files = await tree(Array.from({ length: 100 }, (_, i) => file(`${'long-file-name-'.repeat(8)}${i}`)));
    const linked = (name: string, i: number) => file(name, { nlink: 2, dev: 7n, inode: BigInt(i) });
    const xattrs = { 'user.note': Buffer.from('kept') };
    const root = await tree(
      Array.from({ length: 60 }, (_, i) => [dir(`d${i}`, files), linked(`h${i}a`, i), linked(`h${i}b`, i), node(`s${i}`, { type: 'symlink', linkTarget: Buffer.from(`d${i}`), xattrs })]).flat(),
    );
    const p = await plan(root);
    expect([p.dirs.length, p.later.length, p.hardlinks.length]).toEqual([60, 60, 60]);
    const held = [...p.dirs, ...p.later, ...p.hardlinks].flatMap((e) => [
      e.path,
      e.node.name,
      ...(e.node.linkTarget ? [e.node.linkTarget] : []),
      ...(e.node.xattrs ? Object.values(e.node.xattrs) : []),
    ]);
    held.push(...p.hardlinks.map((h) => h.existing));
    expect(new Set(held.map((b) => b.buffer)).size).toBe(1);
    expect(paths(p.later).slice(0, 2)).toEqual(['/s0', '/s1']);
    expect(p.later[1]!.node.linkTarget!.toString()).toBe('d1');
    expect(p.later[1]!.node.xattrs).toEqual(xattrs);
    expect(p.hardlinks.slice(0, 2).map((h) => [rel(h.path), rel(h.existing)])).toEqual([
      ['/h0b', '/h0a'],
      ['/h10b', '/h10a'],
    ]);
  });

  it("fails naming the file when a file's blob is missing from the index", async () => {
    const missing = sha(Buffer.from('never stored'));
    const root = await tree([dir('d', await tree([file('gone', { content: [blob.ten, missing] })]))]);
    const err = await plan(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe(`blob ${missing.slice(0, 12)} of /d/gone is missing from the repository index`);
  });
});
