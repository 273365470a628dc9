import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repo/repository.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

/** Subdirectories are walked side by side: what a backup records must not depend on which finished first. */
describe('the walk of a wide, deep tree', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let files = 0;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-walk-');
    src = join(tmp.path, 'src');
    const fill = async (dir: string, depth: number): Promise<void> => {
      await mkdir(dir, { recursive: true });
      for (let f = 0; f < 3 + depth; f++, files++) await writeFile(join(dir, `f${f}`), `${dir} ${f}`.repeat(depth + 1));
      if (depth === 0) return;
      for (let d = 0; d < 4; d++) await fill(join(dir, `d${d}`), depth - 1);
    };
    await fill(src, 3);
    ws = await makeWorkspace(tmp.path, [src]);
  });
  afterAll(() => tmp.cleanup());

  it('records the same tree on every run, with every file, and restores it whole', async () => {
    const trees: string[] = [];
    for (const strategy of ['full', 'full', 'full', 'incremental']) {
      const r = await ws.run(['--json', 'backup', 'run', '--type', strategy]);
      expect(r.code, r.stderr).toBe(0);
      const backup = (JSON.parse(r.stdout) as { backups: { snapshotId: string; summary: { files: number } }[] }).backups[0]!;
      expect(backup.summary.files).toBe(files);
      const repo = await Repository.open(createLocalAdapter({ name: 'local', path: ws.repo }), { password: 'test-password' });
      // src's own tree: the directories above it change with every run (the catalog sits beside src).
      let tree = (await repo.loadSnapshot(backup.snapshotId)).tree;
      for (const part of src.split('/').filter(Boolean)) tree = (await repo.loadTree(tree)).find((n) => n.name.toString() === part)!.subtree!;
      trees.push(tree);
      await repo.close();
    }
    expect(new Set(trees).size).toBe(1);
    const target = join(tmp.path, 'restored');
    const r = await ws.run(['--json', 'restore', '--target', target]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { restore: { files: number; dirs: number } }).restore).toMatchObject({ files, dirs: 1 + 4 + 16 + 64 + src.split('/').filter(Boolean).length - 1 });
  });
});
