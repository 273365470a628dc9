import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repo/repository.js';
import type { TreeNode } from '../../src/repo/tree-node.js';
import { serializeTree } from '../../src/repo/tree.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

/**
 * A snapshot is outside input: whoever can write to a destination can plant one. These
 * snapshots are crafted with the library, the way such a writer would, and restored
 * with the real CLI.
 */
describe('restore of a crafted snapshot', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let outside: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let real: string;
  /** A real file node and a real directory node from the backup, to copy. */
  let fileNode: TreeNode;
  let dirNode: TreeNode;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-restore-security-');
    src = join(tmp.path, 'src');
    await mkdir(join(src, 'docs'), { recursive: true });
    await writeFile(join(src, 'docs', 'a.txt'), 'payload');
    outside = join(tmp.path, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'sentinel'), 'untouched');
    ws = await makeWorkspace(tmp.path, [src]);
    const r = await ws.run(['--json', 'backup', 'run']);
    expect(r.code, r.stderr).toBe(0);
    real = (JSON.parse(r.stdout) as { backups: { snapshotId: string }[] }).backups[0]!.snapshotId;

    await withRepo(async (repo) => {
      const snapshot = await repo.loadSnapshot(real);
      const root = await repo.loadTree(snapshot.tree);
      dirNode = root[0]!;
      let nodes = root;
      for (const part of [...src.split('/').filter(Boolean), 'docs']) nodes = await repo.loadTree(nodes.find((n) => n.name.toString() === part)!.subtree!);
      fileNode = nodes.find((n) => n.name.toString() === 'a.txt')!;
    });
  });
  afterAll(() => tmp.cleanup());

  async function withRepo<T>(fn: (repo: Repository) => Promise<T>): Promise<T> {
    const repo = await Repository.open(createLocalAdapter({ name: 'local', path: ws.repo }), { password: 'test-password' });
    try {
      return await fn(repo);
    } finally {
      await repo.close();
    }
  }

  const file = (name: string | Buffer): TreeNode => ({ ...fileNode, name: Buffer.from(name) });
  const dir = (name: string, subtree: string): TreeNode => ({ ...dirNode, name: Buffer.from(name), subtree });
  const link = (name: string, target: string): TreeNode => ({ ...fileNode, name: Buffer.from(name), type: 'symlink', mode: 0o777, linkTarget: Buffer.from(target), content: [], size: 0 });

  /** Saves `/srv/<nodes>` as a new backup of the source; `raw` stores the /srv tree bytes as given. */
  async function craftBackup(srv: TreeNode[] | Buffer): Promise<string> {
    return withRepo(async (repo) => {
      let srvTree: string;
      if (Buffer.isBuffer(srv)) {
        srvTree = createHash('sha256').update(srv).digest('hex');
        await repo.saveBlob('tree', srvTree, srv);
      } else srvTree = await repo.saveTree(srv);
      const tree = await repo.saveTree([dir('srv', srvTree)]);
      await repo.flush();
      const { id: _id, version: _version, ...input } = await repo.loadSnapshot(real);
      return repo.saveSnapshot({ ...input, tree, time: new Date().toISOString() });
    });
  }

  async function expectRefused(id: string, name: string, opts: { target?: string; force?: boolean } = {}) {
    const target = opts.target ?? join(tmp.path, `target-${id.slice(0, 8)}`);
    const before = existsSync(target) ? await snapshotDir(target) : undefined;
    const r = await ws.run(['restore', id, '--target', target, ...(opts.force ? ['--force'] : [])]);
    expect(r.code, r.stderr).toBe(5);
    // Names the backup by id where the caller passes it, by tree otherwise.
    const [line, ...more] = r.stderr.trim().split('\n');
    expect(more).toEqual([]);
    expect(line).toMatch(new RegExp(`(backup ${id.slice(0, 8)}|the backup with tree [0-9a-f]{8}) (holds an unsafe name|lists the name) '`));
    expect(line).toContain(`'${name}' `);
    expect(line).toMatch(/ under \/srv(\/[^/ ]+)?: nothing was restored$/);
    if (before) expect(await snapshotDir(target)).toEqual(before);
    else expect(existsSync(target)).toBe(false);
    expect(await snapshotDir(outside)).toEqual(['sentinel']);
    expect(await readFile(join(outside, 'sentinel'), 'utf8')).toBe('untouched');
  }

  it("refuses a '..' name before writing anything", async () => {
    // /srv and /srv/-keep come before '..' in tree order: a restore that wrote as it walked would leave them behind.
    const escape = await withRepo((repo) => repo.saveTree([file('sentinel')]));
    const id = await craftBackup([dir('..', escape), file('-keep')]);
    await expectRefused(id, '..');
  });

  it('refuses an unsafe name in a subdirectory while later subdirectories are still being read, one of them missing', async () => {
    const [bad, good] = await withRepo(async (repo) => {
      const trees = [await repo.saveTree([file('..')]), await repo.saveTree([file('fine')])] as const;
      await repo.flush();
      return trees;
    });
    // Trees are read ahead of the walk: the missing one's failure must not be what is reported, nor crash the run.
    const missing = 'f'.repeat(64);
    const id = await craftBackup([dir('a', bad), dir('b', good), dir('c', missing), dir('d', good)]);
    await expectRefused(id, '..');
  });

  it("refuses a name holding '/'", async () => {
    const id = await craftBackup([file('a'), file(`../../../../../../../../..${outside}/sentinel`)]);
    await expectRefused(id, `../../../../../../../../..${outside}/sentinel`);
  });

  it('refuses a NUL byte, printing it escaped on one line', async () => {
    const id = await craftBackup([file(Buffer.from('a\0b'))]);
    await expectRefused(id, 'a\\x00b');
  });

  it('refuses a symlink and a directory of the same name, so nothing is written through the link', async () => {
    const below = await withRepo((repo) => repo.saveTree([file('pwned')]));
    const id = await craftBackup([link('a', outside), dir('a', below)]);
    await expectRefused(id, 'a');
  });

  it('refuses a duplicate spelled once as name and once as nameB64, far apart in an unsorted tree', async () => {
    const below = await withRepo((repo) => repo.saveTree([file('pwned')]));
    const stored = (n: TreeNode) => (JSON.parse(serializeTree([n]).toString()) as { nodes: Record<string, unknown>[] }).nodes[0]!;
    const asB64 = stored(dir('a', below));
    const { name: _name, ...rest } = asB64;
    const raw = Buffer.from(JSON.stringify({ version: 1, nodes: [stored(link('a', outside)), stored(file('m')), { nameB64: Buffer.from('a').toString('base64'), ...rest }] }));
    const id = await craftBackup(raw);
    await expectRefused(id, 'a');
  });

  it('refuses an unsafe name in an archive export too, leaving no archive behind', async () => {
    const id = await craftBackup([file('a'), file('..')]);
    const dir = join(tmp.path, 'archives');
    await mkdir(dir);
    const r = await ws.run(['restore', id, '--archive', join(dir, 'out.tar.gz')]);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toContain("unsafe name '..'");
    expect(await readdir(dir)).toEqual([]);
  });

  it('leaves an existing target untouched with --force', async () => {
    const target = join(tmp.path, 'target-existing');
    await mkdir(join(target, 'srv'), { recursive: true });
    await writeFile(join(target, 'srv', 'keep'), 'mine');
    const id = await craftBackup([file('a'), file('keep'), file('..')]);
    await expectRefused(id, '..', { target, force: true });
    expect(await readFile(join(target, 'srv', 'keep'), 'utf8')).toBe('mine');
  });

  it('with --force, replaces a symlink standing where the backup has a directory instead of writing through it', async () => {
    const target = join(tmp.path, 'target-linked');
    await mkdir(join(target, src), { recursive: true });
    await symlink(outside, join(target, src, 'docs'));
    const r = await ws.run(['restore', real, '--target', target, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect((await lstat(join(target, src, 'docs'))).isDirectory()).toBe(true);
    expect(await readFile(join(target, src, 'docs', 'a.txt'), 'utf8')).toBe('payload');
    expect(await snapshotDir(outside)).toEqual(['sentinel']);
    expect(await readFile(join(outside, 'sentinel'), 'utf8')).toBe('untouched');
  });

  it('with --force and --include, makes every directory above a selected file itself, even one the glob passes over', async () => {
    const target = join(tmp.path, 'target-include');
    await mkdir(join(target, src), { recursive: true });
    await symlink(outside, join(target, src, 'docs'));
    // A brace group spanning a '/' hides the docs directory from a segment-by-segment match.
    const r = await ws.run(['restore', real, '--target', target, '--force', '--include', `${src}/{docs/a.txt,other/b.txt}`]);
    expect(r.code, r.stderr).toBe(0);
    expect((await lstat(join(target, src, 'docs'))).isDirectory()).toBe(true);
    expect(await readFile(join(target, src, 'docs', 'a.txt'), 'utf8')).toBe('payload');
    expect(await snapshotDir(outside)).toEqual(['sentinel']);
  });

  it('restores symlinks after files, so a snapshot link is never followed by its own restore', async () => {
    const id = await craftBackup([link('a', outside), file('b')]);
    const target = join(tmp.path, 'target-links');
    const r = await ws.run(['restore', id, '--target', target]);
    expect(r.code, r.stderr).toBe(0);
    expect((await lstat(join(target, 'srv', 'a'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(target, 'srv', 'b'), 'utf8')).toBe('payload');
    expect(await snapshotDir(outside)).toEqual(['sentinel']);
  });
});

/** Every path below `dir`, sorted, without following links. */
async function snapshotDir(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}
