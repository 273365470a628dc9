import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNode } from '../../src/backup/snapshot-walk.js';
import { Repository } from '../../src/repo/repository.js';
import { setTimes } from '../../src/sources/files/native.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();

interface RunJson {
  status: string;
  backups: {
    snapshotId: string;
    strategy: string;
    parent?: string;
    summary: { files: number; newFiles: number; changedFiles: number; unchangedFiles: number; newDataBlobs: number; addedBytes: number };
  }[];
}

describe('strategies: incremental, differential and full', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-incr-');
    src = join(tmp.path, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    for (let i = 0; i < 200; i++) await writeFile(join(src, 'sub', `f${i}.txt`), `file ${i} `.repeat(200 + i));
    await writeFile(join(src, 'big.bin'), randomBytes(8 * 1024 * 1024));
    await writeFile(join(src, 'victim.txt'), 'AAAAAAAAAAAAAAAA');
    ws = await makeWorkspace(tmp.path, [src]);
  });
  afterAll(() => tmp.cleanup());

  const runJson = async (...args: string[]): Promise<RunJson> => {
    const r = await ws.run(['--json', 'backup', 'run', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as RunJson;
  };

  it('a second run after no change reads nothing and writes no new data blob', async () => {
    const first = await runJson();
    expect(first.backups[0]!.summary.newDataBlobs).toBeGreaterThan(0);
    const second = await runJson();
    const s = second.backups[0]!;
    expect(s.strategy).toBe('incremental');
    expect(s.parent).toBe(first.backups[0]!.snapshotId);
    expect(s.summary.newDataBlobs).toBe(0);
    expect(s.summary.changedFiles + s.summary.newFiles).toBe(0);
    expect(s.summary.unchangedFiles).toBe(first.backups[0]!.summary.files);
    // Its directories' trees came from the directory cache beside the catalog: one file per repository and source, the owner's only.
    const cached = await readdir(join(tmp.path, 'catalog.db.dirs'));
    expect(cached).toHaveLength(1);
    expect((await stat(join(tmp.path, 'catalog.db.dirs', cached[0]!))).mode & 0o777).toBe(0o600);
  });

  it('catches a change whose size and mtime were put back (its ctime moved)', async () => {
    const victim = join(src, 'victim.txt');
    const before = await stat(victim, { bigint: true });
    await writeFile(victim, 'BBBBBBBBBBBBBBBB');
    setTimes(Buffer.from(victim), before.atimeNs, before.mtimeNs, false);
    const after = await stat(victim, { bigint: true });
    expect(after.size).toBe(before.size);
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.ctimeNs).not.toBe(before.ctimeNs);

    const run = await runJson();
    expect(run.backups[0]!.summary.changedFiles).toBe(1);
    const target = join(tmp.path, 'restore-changed');
    const restore = await ws.run(['restore', run.backups[0]!.snapshotId, '--target', target]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(await readFile(join(target, victim), 'utf8')).toBe('BBBBBBBBBBBBBBBB');
  });

  it('a directory where only a mode changed gets a new listing, while unchanged ones keep their parent tree', async () => {
    const file = join(src, 'sub', 'f7.txt');
    await chmod(file, 0o600);
    const run = await runJson();
    expect(run.backups[0]!.summary.changedFiles).toBe(1);
    const target = join(tmp.path, 'restore-mode');
    const restore = await ws.run(['restore', run.backups[0]!.snapshotId, '--target', target]);
    expect(restore.code, restore.stderr).toBe(0);
    expect((await stat(join(target, file))).mode & 0o777).toBe(0o600);
    expect((await stat(join(target, src, 'sub', 'f8.txt'))).mode & 0o777).toBe((await stat(join(src, 'sub', 'f8.txt'))).mode & 0o777);

    // Nothing changed in the source since: it keeps the tree of the run before (its ancestors' listings
    // moved, with the restore made beside it).
    const again = await runJson();
    const repo = await Repository.open(localAdapter({ name: 'local', path: ws.repo }), { password: ws.env.BKDR_PASSWORD! });
    const sourceTree = async (id: string) => (await findNode(repo, (await repo.loadSnapshot(id)).tree, src)).node?.subtree;
    const [before, after] = [await sourceTree(run.backups[0]!.snapshotId), await sourceTree(again.backups[0]!.snapshotId)];
    expect(before).toBeDefined();
    expect(after).toBe(before);
  });

  it('full re-reads everything and differential compares with the last full', async () => {
    const full = await runJson('--type', 'full');
    expect(full.backups[0]!.strategy).toBe('full');
    expect(full.backups[0]!.parent).toBeUndefined();
    expect(full.backups[0]!.summary.unchangedFiles).toBe(0);
    expect(full.backups[0]!.summary.newDataBlobs).toBe(0); // re-read, but deduplicated

    await writeFile(join(src, 'sub', 'f1.txt'), 'changed after the full');
    await runJson('--type', 'incremental');
    const diff = await runJson('--type', 'differential');
    expect(diff.backups[0]!.strategy).toBe('differential');
    expect(diff.backups[0]!.parent).toBe(full.backups[0]!.snapshotId);
    expect(diff.backups[0]!.summary.changedFiles).toBe(1);

    const list = await ws.run(['--json', 'backup', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const backups = JSON.parse(list.stdout) as { id: string; strategy: string; parent?: string }[];
    expect(backups.map((b) => b.strategy)).toContain('differential');
    expect(backups.find((b) => b.strategy === 'differential')?.parent).toBe(full.backups[0]!.snapshotId);
  });
  it('--dry-run says what would be backed up and writes nothing', async () => {
    const before = (await ws.run(['--json', 'backup', 'list'])).stdout;
    const r = await ws.run(['--json', 'backup', 'run', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { dryRun: boolean; backups: unknown[]; planned: { source: string; destination: string; strategy: string; files: number }[] };
    expect(out.dryRun).toBe(true);
    expect(out.backups).toEqual([]);
    expect(out.planned).toMatchObject([{ source: 'files', destination: 'local', strategy: 'incremental', files: 202 }]);
    expect((await ws.run(['--json', 'backup', 'list'])).stdout).toBe(before);
  });
});
