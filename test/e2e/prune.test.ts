import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repo/repository.js';
import { applyRetention } from '../../src/repo/retention-policy.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { bkdrBin, makeTempDir, makeWorkspace } from '../helpers/cli.js';

interface Listed {
  id: string;
  time: string;
  source: string;
}

interface PruneJson {
  dryRun: boolean;
  destinations: {
    destination: string;
    decisions: { id: string; time: string; keep: boolean; reasons: string[] }[];
    forgotten: number;
    report?: { packsDeleted: number; packsRepacked: number; blobsRepacked: number; bytesFreed: number };
  }[];
}

const listBackups = async (ws: Awaited<ReturnType<typeof makeWorkspace>>): Promise<Listed[]> => {
  const r = await ws.run(['--json', 'backup', 'list']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
};

async function packFiles(repo: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await readdir(join(repo, 'data')).catch(() => [] as string[])) for (const p of await readdir(join(repo, 'data', sub))) out.push(p);
  return out.sort();
}

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  tmp = await makeTempDir('bkdr-prune-');
});
afterAll(() => tmp.cleanup());

describe('backup prune', () => {
  it('keeps the GFS set over three years of backups and forgets the rest', async () => {
    const dir = join(tmp.path, 'gfs');
    const src = join(dir, 'src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'file.txt'), 'content');
    const retention = { daily: 7, weekly: 4, monthly: 12, yearly: 3 };
    // A cron schedule in UTC puts the retention's day boundaries in UTC, whatever the host's zone.
    const ws = await makeWorkspace(dir, [src], { retention, schedule: { type: 'cron', expression: '0 2 * * *', timezone: 'UTC' } });
    expect((await ws.run(['backup', 'run'])).code).toBe(0);

    // Backups with faked times, one a day for three years, all of the same tree.
    const repo = await Repository.open(createLocalAdapter({ name: 'local', path: ws.repo }), { password: 'test-password' });
    const [real] = await repo.listSnapshots();
    const times: string[] = [];
    for (let t = Date.parse('2023-01-01T02:00:00Z'); t <= Date.parse('2025-12-31T02:00:00Z'); t += 86_400_000) times.push(new Date(t).toISOString());
    times.push('2025-12-31T14:00:00.000Z');
    const { id: _id, version: _v, ...template } = real!;
    for (const time of times) await repo.saveSnapshot({ ...template, time, startTime: time, endTime: time });
    await repo.deleteSnapshot(real!.id);
    await repo.close();
    const all = await listBackups(ws);
    expect(all).toHaveLength(times.length);

    const dry = await ws.run(['--json', 'backup', 'prune', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as PruneJson;
    const keptTimes = plan.destinations[0]!.decisions.filter((d) => d.keep).map((d) => d.time);
    expect(keptTimes).toHaveLength(22);
    expect(keptTimes).toEqual(
      applyRetention(
        times.map((time) => ({ time })),
        retention,
        'UTC',
      )
        .filter((d) => d.keep)
        .map((d) => d.snapshot.time),
    );
    expect(keptTimes).toContain('2023-12-31T02:00:00.000Z');
    expect(keptTimes).toContain('2025-12-14T02:00:00.000Z');
    expect(keptTimes).not.toContain('2025-12-31T02:00:00.000Z');
    expect(await listBackups(ws)).toHaveLength(times.length);

    const table = await ws.run(['backup', 'prune', '--dry-run']);
    expect(table.stdout).toMatch(/keep\s+│\s+daily, weekly, monthly, yearly/);
    expect(table.stdout).toMatch(/would keep 22, forget 1075 backups/);

    const real1 = await ws.run(['--json', 'backup', 'prune']);
    expect(real1.code, real1.stderr).toBe(0);
    const left = await listBackups(ws);
    expect(left.map((b) => b.time).sort()).toEqual([...keptTimes].sort());
    // The data every kept backup shares is still there.
    expect((JSON.parse(real1.stdout) as PruneJson).destinations[0]!.report!.packsDeleted).toBe(0);
    const oldest = left.find((b) => b.time === '2023-12-31T02:00:00.000Z')!;
    expect((await ws.run(['restore', oldest.id, '--target', join(dir, 'restored'), '--verify'])).code).toBe(0);
    expect(await readFile(join(dir, 'restored', src, 'file.txt'), 'utf8')).toBe('content');
  });

  it('deletes packs nothing needs, repacks partly used ones, and every kept backup still restores', async () => {
    const dir = join(tmp.path, 'data');
    const src = join(dir, 'src');
    await mkdir(src, { recursive: true });
    // Small files, sealed in one batch into one pack: a pack half of which the kept backup needs.
    // (Large files in flight at once go to packs of their own, which prune deletes or keeps whole.)
    const kept = Array.from({ length: 10 }, () => randomBytes(40 * 1024));
    for (const [i, data] of kept.entries()) await writeFile(join(src, `kept-${i}.bin`), data);
    for (let i = 0; i < 10; i++) await writeFile(join(src, `dropped-${i}.bin`), randomBytes(40 * 1024));
    const ws = await makeWorkspace(dir, [src], { retention: { last: 1 }, compression: { enabled: false, algorithm: 'lz4' } });
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    const firstPacks = await packFiles(ws.repo);
    for (let i = 0; i < 10; i++) await rm(join(src, `dropped-${i}.bin`));
    const added = randomBytes(2 * 1024 * 1024);
    await writeFile(join(src, 'added.bin'), added);
    expect((await ws.run(['backup', 'run'])).code).toBe(0);

    const r = await ws.run(['--json', 'backup', 'prune']);
    expect(r.code, r.stderr).toBe(0);
    const report = (JSON.parse(r.stdout) as PruneJson).destinations[0]!;
    expect(report.forgotten).toBe(1);
    // The first backup's data pack held the kept files (still used) and the dropped ones (not): half unused, so repacked.
    expect(report.report!.packsRepacked).toBeGreaterThanOrEqual(1);
    expect(report.report!.bytesFreed).toBeGreaterThan(400 * 1024 - 64 * 1024);
    const after = await packFiles(ws.repo);
    for (const p of firstPacks) expect(after).not.toContain(p);

    const [only] = await listBackups(ws);
    const target = join(dir, 'restored');
    const restore = await ws.run(['restore', only!.id, '--target', target, '--verify']);
    expect(restore.code, restore.stderr).toBe(0);
    for (const [i, data] of kept.entries()) expect((await readFile(join(target, src, `kept-${i}.bin`))).equals(data)).toBe(true);
    expect((await readFile(join(target, src, 'added.bin'))).equals(added)).toBe(true);
    expect(existsSync(join(target, src, 'dropped-0.bin'))).toBe(false);

    // A second prune finds nothing to do; a new backup still deduplicates against what was repacked.
    const again = JSON.parse((await ws.run(['--json', 'backup', 'prune'])).stdout) as PruneJson;
    expect(again.destinations[0]!.forgotten).toBe(0);
    expect(again.destinations[0]!.report!.packsDeleted).toBe(0);
    const third = JSON.parse((await ws.run(['--json', 'backup', 'run', '--type', 'full'])).stdout) as { backups: { summary: { addedBytes: number } }[] };
    expect(third.backups[0]!.summary.addedBytes).toBeLessThan(64 * 1024);
  });
});

/** Starts `bkdr <args>` in the background; resolves when it has taken its repository lock. */
/**
 * Runs bkdr until it holds its repository lock and has committed the catalog writes of its
 * start (the run's row; for a backup, its first log line, written after the lock is taken):
 * stopped inside a catalog transaction, it would hold up the others' catalog writes instead
 * of their locks, which is not what these tests are about.
 */
async function startHoldingLock(ws: Awaited<ReturnType<typeof makeWorkspace>>, args: string[]): Promise<{ child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> }> {
  const child = spawn(process.execPath, [bkdrBin, '-c', ws.config, ...args], { env: { ...process.env, ...ws.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  const kind = args[1] === 'prune' ? 'prune' : 'backup';
  const startCommitted = () => {
    if (!existsSync(ws.env.BKDR_CATALOG!)) return false;
    const db = new Database(ws.env.BKDR_CATALOG!, { readonly: true });
    try {
      const run = db.prepare("SELECT (SELECT count(*) FROM run_logs WHERE run_id = runs.id) AS logs FROM runs WHERE status = 'running' AND kind = ?").get(kind) as { logs: number } | undefined;
      return run !== undefined && (kind === 'prune' || run.logs > 0);
    } finally {
      db.close();
    }
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const locks = await readdir(join(ws.repo, 'locks')).catch(() => [] as string[]);
    if (locks.some((l) => !l.startsWith('.')) && startCommitted()) return { child, done };
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`bkdr ${args.join(' ')} never took its lock`);
}

describe('prune and backups running at once', () => {
  let dir: string;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  beforeAll(async () => {
    dir = join(tmp.path, 'concurrent');
    src = join(dir, 'src');
    await mkdir(src, { recursive: true });
    ws = await makeWorkspace(dir, [src], { retention: { last: 1 } });
  });

  it('two backups started at once on a new repository both succeed, and both restore', async () => {
    await writeFile(join(src, 'a.bin'), randomBytes(1024 * 1024));
    const [one, two] = await Promise.all([ws.run(['--json', 'backup', 'run', '--type', 'full']), ws.run(['--json', 'backup', 'run', '--type', 'full'])]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    const backups = await listBackups(ws);
    expect(backups).toHaveLength(2);
    for (const b of backups) expect((await ws.run(['restore', b.id, '--target', join(dir, `both-${b.id}`), '--verify'])).code).toBe(0);
    expect(await readdir(join(ws.repo, 'keys'))).toHaveLength(1);
  });

  it('a prune started during a backup is refused with the holder named, or waits for it with --lock-wait; nothing goes missing', async () => {
    for (let i = 0; i < 3; i++) await writeFile(join(src, `big-${i}.bin`), randomBytes(16 * 1024 * 1024));
    const backup = await startHoldingLock(ws, ['backup', 'run']);
    // Paused while it holds its lock, so the prune certainly starts during the backup, however fast the machine.
    backup.child.kill('SIGSTOP');
    const refused = await ws.run(['backup', 'prune']);
    expect(refused.code, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stdout + refused.stderr).toMatch(/destination local is locked by [^:]+:\d+ \(shared lock for backup\) since /);

    const waiting = ws.run(['--json', 'backup', 'prune', '--lock-wait', '60s']);
    await new Promise((r) => setTimeout(r, 1000));
    backup.child.kill('SIGCONT');
    const finished = await backup.done;
    const waited = await waiting;
    expect(finished.code, finished.stderr).toBe(0);
    expect(waited.code, waited.stdout + waited.stderr).toBe(0);
    // The prune ran after the backup: it kept the new backup (last 1) and forgot the two older ones.
    expect((JSON.parse(waited.stdout) as PruneJson).destinations[0]!.forgotten).toBe(2);

    const backups = await listBackups(ws);
    expect(backups).toHaveLength(1);
    const target = join(dir, 'after-prune');
    const restore = await ws.run(['restore', backups[0]!.id, '--target', target, '--verify']);
    expect(restore.code, restore.stderr).toBe(0);
    for (let i = 0; i < 3; i++) expect((await readFile(join(target, src, `big-${i}.bin`))).length).toBe(16 * 1024 * 1024);
    expect(await readdir(join(ws.repo, 'locks'))).toEqual([]);
  });

  it('a backup started during a prune is refused, or waits for it with --lock-wait', async () => {
    await writeFile(join(src, 'late.txt'), 'written while pruning');
    const prune = await startHoldingLock(ws, ['backup', 'prune']);
    prune.child.kill('SIGSTOP');
    const refused = await ws.run(['backup', 'run']);
    expect(refused.code, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stdout).toMatch(/locked by [^:]+:\d+ \(exclusive lock for prune\)/);
    const backup = ws.run(['--json', 'backup', 'run', '--lock-wait', '60s']);
    await new Promise((r) => setTimeout(r, 1000));
    prune.child.kill('SIGCONT');
    expect((await prune.done).code).toBe(0);
    const done = await backup;
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const newest = (await listBackups(ws)).sort((a, b) => a.time.localeCompare(b.time)).at(-1)!;
    const target = join(dir, 'late');
    expect((await ws.run(['restore', newest.id, '--target', target, '--verify'])).code).toBe(0);
    expect(await readFile(join(target, src, 'late.txt'), 'utf8')).toBe('written while pruning');
  });
});
