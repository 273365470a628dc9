import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bkdrBin, type CliResult, makeTempDir, makeWorkspace } from '../helpers/cli.js';

/** The data-safety defects found by trying bkdr as a hostile user, each through the CLI as an operator would meet it. */

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;
interface Listed {
  id: string;
  time: string;
  summary: { files: number };
}

const json = <T>(r: CliResult): T => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};
const lockFiles = (repo: string) => (existsSync(join(repo, 'locks')) ? readdirSync(join(repo, 'locks')) : []);

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  tmp = await makeTempDir('bkdr-data-safety-');
});
afterEach(() => tmp.cleanup());

async function sourceWithData(): Promise<string> {
  const src = join(tmp.path, 'disk', 'data');
  await mkdir(join(src, 'deep'), { recursive: true });
  await writeFile(join(src, 'a.bin'), randomBytes(2 * 1024 * 1024));
  await writeFile(join(src, 'deep', 'b.txt'), 'hello\n');
  return src;
}

describe('a source path that is gone', () => {
  it('fails the run with nothing written, and prune with last: 2 keeps the real backup, which still restores', async () => {
    const src = await sourceWithData();
    const ws = await makeWorkspace(tmp.path, [src], { retention: { last: 2 } });
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    const snapshotsBefore = readdirSync(join(ws.repo, 'snapshots'), { recursive: true });

    // The disk did not mount.
    await rename(join(tmp.path, 'disk'), join(tmp.path, 'unmounted'));
    for (let i = 0; i < 2; i++) {
      const gone = await ws.run(['backup', 'run']);
      expect(gone.code, gone.stderr).toBe(1);
      expect(gone.stderr).toContain(`none of its paths can be backed up: ${src} does not exist`);
    }
    expect(readdirSync(join(ws.repo, 'snapshots'), { recursive: true })).toEqual(snapshotsBefore);

    const prune = await ws.run(['backup', 'prune']);
    expect(prune.code, prune.stderr).toBe(0);
    const listed = json<Listed[]>(await ws.run(['--json', 'backup', 'list']));
    expect(listed).toHaveLength(1);
    const restored = join(tmp.path, 'restored');
    expect((await ws.run(['restore', '--target', restored])).code).toBe(0);
    expect(await readFile(join(restored, src, 'deep', 'b.txt'), 'utf8')).toBe('hello\n');
  });

  it('a source only partly there backs up the rest, exits 3 and says which paths its backup lacks', async () => {
    const src = await sourceWithData();
    const missing = join(tmp.path, 'other-disk');
    const ws = await makeWorkspace(tmp.path, [src, missing]);
    const run = await ws.run(['backup', 'run']);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(`warning: ${missing}: does not exist (a disk that is not mounted?); not in this backup`);
    const status = json<{ lastPerSource: { source: string; missingPaths?: string[] }[] }>(await ws.run(['--json', 'backup', 'status']));
    expect(status.lastPerSource).toEqual([expect.objectContaining({ source: 'files', missingPaths: [missing] })]);
  });

  it('empty backups after real ones do not count toward retention, and forgetting every non-empty backup needs --force', async () => {
    const src = await sourceWithData();
    const ws = await makeWorkspace(tmp.path, [src], { retention: { last: 2 } });
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    // Emptied by mistake: these backups are real, and empty.
    await rm(src, { recursive: true });
    await mkdir(src);
    for (let i = 0; i < 2; i++) expect((await ws.run(['backup', 'run'])).code).toBe(0);

    // --count-empty lets them count: `last: 2` would then keep only the two empty ones.
    const counted = await ws.run(['backup', 'prune', '--count-empty']);
    expect(counted.code).toBe(2);
    expect(counted.stderr).toMatch(/retention would forget every non-empty backup of source files on local .*nothing was pruned there \(pass --force to prune anyway\)/);
    expect(json<Listed[]>(await ws.run(['--json', 'backup', 'list']))).toHaveLength(3);

    const pruned = await ws.run(['backup', 'prune']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('not counted toward retention');
    const left = json<Listed[]>(await ws.run(['--json', 'backup', 'list']));
    expect(left.map((b) => b.summary.files)).toEqual([2]);
  });
});

describe("bkdr's own files under a source path", () => {
  it('are never backed up: the repository, the catalog and its side files stay out, and the repository does not grow', async () => {
    await writeFile(join(tmp.path, 'data.bin'), randomBytes(3 * 1024 * 1024));
    // As `bkdr init --yes` writes it: the source is the folder that holds the repository and the catalog.
    const ws = await makeWorkspace(tmp.path, [tmp.path], { retention: {} });
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await ws.run(['--json', 'backup', 'run', '--type', 'full']);
      expect(run.code, run.stderr).toBe(0);
      sizes.push(json<{ backups: { summary: { bytes: number } }[] }>(run).backups[0]!.summary.bytes);
    }
    // Same bytes every time: no run took in the previous run's packs or the catalog.
    expect(new Set(sizes).size).toBe(1);
    const listed = json<Listed[]>(await ws.run(['--json', 'backup', 'list']));
    const shown = json<{ entries: { path: string }[] }>(await ws.run(['--json', 'backup', 'show', listed[0]!.id, '--ls']));
    const paths = shown.entries.map((e) => e.path);
    expect(paths).toContain(join(tmp.path, 'data.bin'));
    expect(paths.filter((p) => p.startsWith(ws.repo) || p.includes('catalog.db'))).toEqual([]);
    expect(paths).toContain(join(tmp.path, 'backup.config.json'));
  });
});

describe('a catalog that cannot be used', () => {
  let ws: Workspace;
  let catalog: string;
  beforeEach(async () => {
    const src = await sourceWithData();
    ws = await makeWorkspace(tmp.path, [src]);
    catalog = join(tmp.path, 'catalog.db');
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    expect((await ws.run(['backup', 'verify'])).code).toBe(0);
  });

  it('overwritten with random bytes: restore, list and verify work from the repository, catalog rebuild keeps it aside, audit verify says the history is gone', async () => {
    for (const suffix of ['-wal', '-shm']) await rm(catalog + suffix, { force: true });
    await writeFile(catalog, randomBytes(64 * 1024));

    const restored = join(tmp.path, 'restored');
    const restore = await ws.run(['restore', '--target', restored]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stderr).toMatch(/catalog .*catalog\.db cannot be used \(file is not a database\).*working from the repositories alone/);
    expect(readdirSync(restored, { recursive: true }).length).toBeGreaterThan(0);
    expect(json<Listed[]>(await ws.run(['--json', 'backup', 'list']))).toHaveLength(1);
    expect((await ws.run(['backup', 'verify'])).code).toBe(0);

    // What writes history refuses, in one line that says what to do.
    const run = await ws.run(['backup', 'run']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('run `bkdr catalog rebuild` to keep it aside and rebuild it from the repositories');

    const rebuilt = await ws.run(['catalog', 'rebuild']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const aside = readdirSync(tmp.path).filter((f) => f.startsWith('catalog.db.damaged-'));
    expect(aside).toHaveLength(1);
    expect(rebuilt.stderr).toContain(`kept it as ${join(tmp.path, aside[0]!)}`);
    expect(rebuilt.stdout).toBe('local: 1 backups in the catalog (1 added, 0 no longer in the repository)\n');
    expect(await readFile(join(tmp.path, aside[0]!))).toHaveLength(64 * 1024);

    const audit = await ws.run(['audit', 'verify']);
    expect(audit.code).toBe(5);
    expect(audit.stderr).toMatch(/audit history before .* is lost: file is not a database; the old chain had \d+ rows.*kept at .*catalog\.db\.damaged-/);
  });

  it('deleted: the new catalog does not pass its fresh audit chain off as the whole history', async () => {
    for (const suffix of ['', '-wal', '-shm']) await rm(catalog + suffix, { force: true });
    expect((await ws.run(['catalog', 'rebuild'])).code).toBe(0);
    const audit = await ws.run(['audit', 'verify']);
    expect(audit.code).toBe(5);
    expect(audit.stderr).toMatch(/is lost: the catalog file was missing; the old chain had \d+ rows/);
  });
});

describe('runs that die and restores that fail', () => {
  it('a backup killed with kill -9 is listed as died among the recent failures', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(src);
    // Large enough that the run is still reading when it is killed.
    for (let i = 0; i < 8; i++) await writeFile(join(src, `f${i}.bin`), randomBytes(16 * 1024 * 1024));
    const ws = await makeWorkspace(tmp.path, [src]);
    const child = spawn(process.execPath, [bkdrBin, '-c', ws.config, '--json', 'backup', 'run'], { env: { ...process.env, ...ws.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    // The run's row is written once the repository's first pack is on its way.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (existsSync(join(ws.repo, 'data')) && readdirSync(join(ws.repo, 'data'), { recursive: true }).length > 0) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
    });
    await new Promise((resolve) => child.on('close', resolve));

    const status = json<{ recentFailures: { runId: string; kind: string; status: string; error: string }[] }>(await ws.run(['--json', 'backup', 'status']));
    expect(status.recentFailures).toEqual([expect.objectContaining({ kind: 'backup', status: 'died', error: `process ${child.pid} ended without finishing the run` })]);
  });

  it('restores that find nothing or cannot write leave no lock and no running run, and say why in one line', async () => {
    const src = await sourceWithData();
    const ws = await makeWorkspace(tmp.path, [src]);
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    const attempts = [
      ['restore', '--at', '2001-01-01T00:00:00Z', '--target', join(tmp.path, 'r1')],
      ['restore', 'deadbeef', '--target', join(tmp.path, 'r2')],
      ['restore', '--archive', join(tmp.path, 'no-such-dir', 'out.zip')],
    ];
    for (const args of attempts) {
      const r = await ws.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(lockFiles(ws.repo), args.join(' ')).toEqual([]);
    }
    const runs = await ws.run(['--json', 'backup', 'status']);
    expect(json<{ recentFailures: { status: string }[] }>(runs).recentFailures.map((f) => f.status)).not.toContain('running');
    // The second backup must not wait for or trip over anything the failed restores left.
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
  });
});
