import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkdrBin, makeTempDir, makeWorkspace } from '../helpers/cli.js';

/** Object names under a local repository directory (temp files of unfinished writes left out). */
function objects(repo: string, dir: string): string[] {
  const root = join(repo, dir);
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) if (entry.isFile() && !entry.name.startsWith('.tmp-')) out.push(entry.name);
  return out.sort();
}

/** Runs bkdr and SIGKILLs it as soon as `when()` holds (polled every few ms), or lets it finish. */
function killWhen(config: string, env: NodeJS.ProcessEnv, args: string[], when: () => boolean): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, [bkdrBin, '-c', config, ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const timer = setInterval(() => {
      if (when()) {
        clearInterval(timer);
        child.kill('SIGKILL');
      }
    }, 3);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ killed: signal === 'SIGKILL', code });
    });
  });
}

describe('kill -9 during prune and copy', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-fault-kill-');
    src = join(tmp.path, 'src');
    await mkdir(src, { recursive: true });
    ws = await makeWorkspace(tmp.path, [src], {
      retention: { last: 1 },
      compression: { enabled: false, algorithm: 'lz4' },
      destinations: [
        { name: 'local', type: 'local', priority: 1, config: { path: join(tmp.path, 'repo') } },
        { name: 'copy', type: 'local', priority: 2, config: { path: join(tmp.path, 'copy') } },
      ],
    });
  });
  afterAll(() => tmp.cleanup());

  /** Two backups whose older one leaves partly used packs: the next prune forgets, repacks and deletes. */
  const makePruneWork = async (round: number) => {
    await writeFile(join(src, `keep-${round}.bin`), randomBytes(3 * 1024 * 1024));
    await writeFile(join(src, 'drop.bin'), randomBytes(3 * 1024 * 1024));
    expect((await ws.run(['backup', 'run', '--destination', 'local'])).code).toBe(0);
    await rm(join(src, 'drop.bin'));
    expect((await ws.run(['backup', 'run', '--destination', 'local'])).code).toBe(0);
  };

  const verifyClean = async (destination: string) => {
    const r = await ws.run(['backup', 'verify', '--read-data', '--destination', destination]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  };

  it('a prune killed after forgetting, after writing its new index, or while deleting packs leaves a clean repository', async () => {
    const repo = join(tmp.path, 'repo');
    const phases: [string, (before: { snapshots: string[]; index: string[]; packs: string[] }) => () => boolean][] = [
      ['after forgetting', (b) => () => objects(repo, 'snapshots').length < b.snapshots.length],
      ['after its new index', (b) => () => objects(repo, 'index').some((f) => !b.index.includes(f))],
      ['while deleting packs', (b) => () => b.packs.some((p) => !objects(repo, 'data').includes(p))],
    ];
    let round = 0;
    let killed = 0;
    for (const [phase, trigger] of phases) {
      await makePruneWork(round++);
      const before = { snapshots: objects(repo, 'snapshots'), index: objects(repo, 'index'), packs: objects(repo, 'data') };
      const r = await killWhen(ws.config, ws.env, ['backup', 'prune', '--destination', 'local'], trigger(before));
      expect(r.killed || r.code === 0, phase).toBe(true);
      if (r.killed) killed++;
      // The dead prune's exclusive lock does not block anything: its process is gone.
      await verifyClean('local');
      const next = await ws.run(['backup', 'prune', '--destination', 'local']);
      expect(next.code, `${phase}: ${next.stdout}${next.stderr}`).toBe(0);
      await verifyClean('local');
      const target = join(tmp.path, `after-${round}`);
      const restore = await ws.run(['restore', '--from', 'local', '--target', target, '--verify']);
      expect(restore.code, restore.stderr).toBe(0);
    }
    // The later phases can be over before a poll sees them; the first always leaves time to be caught.
    expect(killed).toBeGreaterThanOrEqual(1);
  });

  it('a copy killed at any moment resumes, and the copy restores from the target alone', async () => {
    for (let i = 0; i < 4; i++) await writeFile(join(src, `copy-${i}.bin`), randomBytes(8 * 1024 * 1024));
    expect((await ws.run(['backup', 'run', '--destination', 'local'])).code).toBe(0);
    const copyRepo = join(tmp.path, 'copy');
    let killed = 0;
    for (let i = 0; i < 4; i++) {
      // Kill at the first new pack, then at later ones: each round gets further.
      const start = objects(copyRepo, 'data').length;
      const r = await killWhen(ws.config, ws.env, ['backup', 'copy', '--from', 'local', '--to', 'copy'], () => objects(copyRepo, 'data').length > start + i);
      if (r.killed) killed++;
      if (existsSync(join(copyRepo, 'config'))) await verifyClean('copy');
    }
    expect(killed).toBeGreaterThanOrEqual(1);
    const done = await ws.run(['--json', 'backup', 'copy', '--from', 'local', '--to', 'copy']);
    expect(done.code, done.stderr).toBe(0);
    await verifyClean('copy');
    await rm(join(tmp.path, 'repo'), { recursive: true });
    const target = join(tmp.path, 'from-copy');
    const restore = await ws.run(['restore', '--from', 'copy', '--target', target, '--verify']);
    expect(restore.code, restore.stderr).toBe(0);
    expect(existsSync(join(target, src, 'copy-3.bin'))).toBe(true);
  });
});
