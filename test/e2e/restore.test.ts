import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace, runBkdr } from '../helpers/cli.js';

interface ListedBackup {
  id: string;
  time: string;
  strategy: string;
}

describe('restore, list, show, status and logs', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let first: string;
  let second: string;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-restore-');
    src = join(tmp.path, 'src');
    await mkdir(join(src, 'docs'), { recursive: true });
    await mkdir(join(src, 'node_modules', 'pkg'), { recursive: true });
    await mkdir(join(src, 'web'), { recursive: true });
    await writeFile(join(src, 'docs', 'a.txt'), 'version one');
    await writeFile(join(src, 'docs', 'b.md'), 'markdown');
    await writeFile(join(src, 'node_modules', 'pkg', 'index.js'), 'excluded by config');
    await writeFile(join(src, 'web', '.bkdrignore'), '*.log\n');
    await writeFile(join(src, 'web', 'server.log'), 'excluded by .bkdrignore');
    await writeFile(join(src, 'web', 'index.html'), '<html>');
    ws = await makeWorkspace(tmp.path, [src], {});
    const cfg = JSON.parse(await readFile(ws.config, 'utf8')) as { sources: { files: { exclude?: string[] } } };
    cfg.sources.files.exclude = ['**/node_modules'];
    await writeFile(ws.config, JSON.stringify(cfg));

    const one = await ws.run(['--json', 'backup', 'run', '--tag', 'first']);
    expect(one.code, one.stderr).toBe(0);
    first = (JSON.parse(one.stdout) as { backups: { snapshotId: string }[] }).backups[0]!.snapshotId;
    await new Promise((r) => setTimeout(r, 1100));
    await writeFile(join(src, 'docs', 'a.txt'), 'version two');
    const two = await ws.run(['--json', 'backup', 'run']);
    expect(two.code, two.stderr).toBe(0);
    second = (JSON.parse(two.stdout) as { backups: { snapshotId: string }[] }).backups[0]!.snapshotId;
  });
  afterAll(() => tmp.cleanup());

  const restored = (target: string, ...parts: string[]) => join(target, src, ...parts);

  it('honours exclude globs and .bkdrignore files', async () => {
    const target = join(tmp.path, 'r-excludes');
    expect((await ws.run(['restore', second, '--target', target])).code).toBe(0);
    expect(existsSync(restored(target, 'node_modules'))).toBe(false);
    expect(existsSync(restored(target, 'web', 'server.log'))).toBe(false);
    expect(await readFile(restored(target, 'web', 'index.html'), 'utf8')).toBe('<html>');
    expect(existsSync(restored(target, 'web', '.bkdrignore'))).toBe(true);
  });

  it('--at picks the newest backup at or before the time and says which', async () => {
    const list = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as ListedBackup[];
    const firstTime = list.find((b) => b.id === first)!.time;
    const target = join(tmp.path, 'r-at');
    const r = await ws.run(['restore', '--source', 'files', '--at', new Date(new Date(firstTime).getTime() + 500).toISOString(), '--target', target]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`picked backup ${first.slice(0, 8)}`);
    expect(await readFile(restored(target, 'docs', 'a.txt'), 'utf8')).toBe('version one');
    const before = await ws.run(['restore', '--at', '2001-01-01T00:00:00Z', '--target', join(tmp.path, 'r-none')]);
    expect(before.code).toBe(2);
    expect(before.stderr).toMatch(/no backup.*at or before 2001/);
  });

  it('refuses a non-empty target without --force, and never writes through a symlink in it', async () => {
    const target = join(tmp.path, 'r-force');
    await mkdir(target);
    await writeFile(join(target, 'unrelated'), 'keep me');
    const refused = await ws.run(['restore', second, '--target', target]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not empty; pass --force/);

    // A symlink planted where the restore will write a file: the file must replace the link, not follow it.
    const outside = join(tmp.path, 'outside.txt');
    await writeFile(outside, 'must not change');
    await mkdir(restored(target, 'docs'), { recursive: true });
    await symlink(outside, restored(target, 'docs', 'a.txt'));
    const forced = await ws.run(['restore', second, '--target', target, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(outside, 'utf8')).toBe('must not change');
    expect(await readFile(restored(target, 'docs', 'a.txt'), 'utf8')).toBe('version two');
    expect(await readFile(join(target, 'unrelated'), 'utf8')).toBe('keep me');
  });

  it('--include restores only matching paths', async () => {
    const target = join(tmp.path, 'r-include');
    const r = await ws.run(['restore', second, '--target', target, '--include', '*.md']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(restored(target, 'docs', 'b.md'), 'utf8')).toBe('markdown');
    expect(existsSync(restored(target, 'docs', 'a.txt'))).toBe(false);
    expect(existsSync(restored(target, 'web', 'index.html'))).toBe(false);
  });

  it('--include that matches nothing in the backup is exit 2 naming the patterns, and creates no target', async () => {
    const target = join(tmp.path, 'r-include-nothing');
    const r = await ws.run(['restore', second, '--target', target, '--include', '*.nope', '--include', 'docs/missing.txt']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`bkdr: no path in backup ${second.slice(0, 8)} matches the include patterns '*.nope', 'docs/missing.txt': nothing was restored`);
    expect(existsSync(target)).toBe(false);
  });

  it('--include with some patterns that match nothing restores what the others match and warns about them on stderr', async () => {
    const target = join(tmp.path, 'r-include-some');
    const r = await ws.run(['restore', second, '--target', target, '--include', '*.md', '--include', '*.nope']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await readFile(restored(target, 'docs', 'b.md'), 'utf8')).toBe('markdown');
    expect(existsSync(restored(target, 'docs', 'a.txt'))).toBe(false);
    expect(r.stderr).toContain(`warning: no path in backup ${second.slice(0, 8)} matches the include pattern '*.nope'\n`);
    expect(r.stdout).not.toMatch(/warning/);
    const json = await ws.run(['--json', 'restore', second, '--target', join(tmp.path, 'r-include-some-json'), '--include', '*.md', '--include', '*.nope']);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { restore: { warnings: string[] } }).restore.warnings).toEqual([`no path in backup ${second.slice(0, 8)} matches the include pattern '*.nope'`]);
  });

  it.each(['tar.gz', 'zip'])('--archive streams a .%s', async (ext) => {
    const file = join(tmp.path, `backup.${ext}`);
    const r = await ws.run(['restore', second, '--archive', file]);
    expect(r.code, r.stderr).toBe(0);
    const listing = ext === 'zip' ? execFileSync('python3', ['-m', 'zipfile', '-l', file], { encoding: 'utf8' }) : execFileSync('tar', ['-tzf', file], { encoding: 'utf8' });
    expect(listing).toContain('docs/a.txt');
    const again = await ws.run(['restore', second, '--archive', file]);
    expect(again.code).toBe(2);
    if (ext === 'tar.gz') {
      const out = join(tmp.path, 'untar');
      await mkdir(out);
      execFileSync('tar', ['-xzf', file, '-C', out]);
      expect(await readFile(join(out, src, 'docs', 'a.txt'), 'utf8')).toBe('version two');
    }
  });

  it('lists, shows and filters backups, with type and parent recorded', async () => {
    const list = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as (ListedBackup & { parent?: string; tags: string[] })[];
    expect(list.map((b) => b.id)).toEqual([second, first]);
    expect(list[1]).toMatchObject({ strategy: 'full', tags: ['first'] });
    expect(list[0]).toMatchObject({ strategy: 'incremental', parent: first });
    const since = JSON.parse((await ws.run(['--json', 'backup', 'list', '--since', list[0]!.time])).stdout) as ListedBackup[];
    expect(since.map((b) => b.id)).toEqual([second]);

    const show = await ws.run(['--json', 'backup', 'show', second.slice(0, 8), '--ls']);
    expect(show.code, show.stderr).toBe(0);
    const shown = JSON.parse(show.stdout) as { backup: { id: string }; entries: { path: string; type: string }[] };
    expect(shown.backup.id).toBe(second);
    expect(shown.entries.map((e) => e.path)).toContain(join(src, 'docs', 'a.txt'));
    const human = await ws.run(['backup', 'show', second.slice(0, 8), '--ls', join(src, 'docs')]);
    expect(human.stdout).toMatch(/docs\/b\.md/);
    expect(human.stdout).not.toMatch(/index\.html/);
  });

  it('status and logs report from the catalog', async () => {
    const status = JSON.parse((await ws.run(['--json', 'backup', 'status'])).stdout) as {
      totals: { backups: number };
      destinations: { name: string; encrypted: boolean; storedBytes: number }[];
      lastPerSource: { backupId: string }[];
    };
    expect(status.totals.backups).toBe(2);
    expect(status.destinations[0]).toMatchObject({ name: 'local', encrypted: true });
    expect(status.destinations[0]!.storedBytes).toBeGreaterThan(0);
    expect(status.lastPerSource[0]!.backupId).toBe(second);

    const run = JSON.parse((await ws.run(['--json', 'backup', 'run'])).stdout) as { runId: string };
    const logs = await ws.run(['--json', 'backup', 'logs', run.runId.slice(0, 8)]);
    expect(logs.code, logs.stderr).toBe(0);
    const parsed = JSON.parse(logs.stdout) as { run: { status: string }; logs: { message: string }[] };
    expect(parsed.run.status).toBe('succeeded');
    expect(parsed.logs.some((l) => /snapshot [0-9a-f]{8}/.test(l.message))).toBe(true);
  });

  it('a wrong password is exit 2 naming the destination', async () => {
    const r = await runBkdr(['-c', ws.config, 'backup', 'list'], { cwd: tmp.path, env: { ...ws.env, BKDR_PASSWORD: 'wrong' } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('bkdr: wrong password for destination local');
  });

  it('restores the same tree as the source, byte for byte, with --verify', async () => {
    const target = join(tmp.path, 'r-verify');
    const r = await ws.run(['--json', 'restore', '--target', target, '--verify']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { restore: { verified: { mismatches: string[] } } };
    expect(out.restore.verified.mismatches).toEqual([]);
  });
});

describe('restore of many packs, with content shared between files', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  afterAll(() => tmp.cleanup());

  // Read and decode buffers are reused as soon as the files using them are written: a blob
  // that several files share, or one still waiting in a batch of new files, must keep its bytes.
  it('writes every file byte for byte', async () => {
    tmp = await makeTempDir('bkdr-restore-shared-');
    const src = join(tmp.path, 'src');
    await mkdir(src, { recursive: true });
    const shared = Array.from({ length: 8 }, () => randomBytes(40_000));
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 600; i++) files.set(`small-${i}`, i % 3 === 0 ? shared[i % 8]! : randomBytes(1000 + (i % 50) * 700));
    // Multi-blob files (written blob by blob), some repeating the same content.
    const big = randomBytes(6 * 1024 * 1024);
    for (let i = 0; i < 4; i++) files.set(`big-${i}`, i < 2 ? big : randomBytes(5 * 1024 * 1024));
    for (const [name, data] of files) await writeFile(join(src, name), data);
    const ws = await makeWorkspace(tmp.path, [src]);
    const backup = await ws.run(['backup', 'run']);
    expect(backup.code, backup.stderr).toBe(0);
    const target = join(tmp.path, 'restored');
    const r = await ws.run(['restore', '--target', target]);
    expect(r.code, r.stderr).toBe(0);
    for (const [name, data] of files) expect((await readFile(join(target, src, name))).equals(data), name).toBe(true);
  });
});
