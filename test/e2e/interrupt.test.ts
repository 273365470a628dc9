import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkdrBin, makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { describeTree } from '../helpers/tree-compare.js';

/**
 * Starts `bkdr backup run` and sends `signal` after `trigger` ms, or as soon as
 * `trigger()` holds (polled); resolves with the exit code and signal.
 */
function runAndSignal(
  config: string,
  env: NodeJS.ProcessEnv,
  signal: NodeJS.Signals,
  trigger: number | (() => boolean),
  extra: string[] = [],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bkdrBin, '-c', config, 'backup', 'run', ...extra], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer =
      typeof trigger === 'number'
        ? setTimeout(() => child.kill(signal), trigger)
        : setInterval(() => {
            if (trigger()) {
              clearInterval(timer);
              child.kill(signal);
            }
          }, 20);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      clearInterval(timer);
      resolve({ code, signal: sig, stderr });
    });
  });
}

/** True once the repository holds at least one pack: the backup is under way. */
function hasPacks(repo: string): boolean {
  try {
    return readdirSync(join(repo, 'data')).some((d) => readdirSync(join(repo, 'data', d)).some((f) => !f.startsWith('.tmp-')));
  } catch {
    return false;
  }
}

describe('interrupted backups', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-kill-');
    src = join(tmp.path, 'src');
    for (let d = 0; d < 10; d++) {
      await mkdir(join(src, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) await writeFile(join(src, `d${d}`, `f${f}`), randomBytes(512 + f * 37));
    }
    for (let i = 0; i < 6; i++) await writeFile(join(src, `blob${i}.bin`), randomBytes(16 * 1024 * 1024));
    ws = await makeWorkspace(tmp.path, [src], { compression: { enabled: true, algorithm: 'gzip', level: 6 } });
  });
  afterAll(() => tmp.cleanup());

  const listIds = async (): Promise<string[]> => {
    const r = await ws.run(['--json', 'backup', 'list']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { id: string }[]).map((b) => b.id);
  };

  it('SIGINT ends within seconds with exit 130, lists nothing, and the next run reuses the uploaded packs', async () => {
    const interrupted = await runAndSignal(ws.config, ws.env, 'SIGINT', () => hasPacks(ws.repo));
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(await listIds()).toEqual([]);
    const next = await ws.run(['--json', 'backup', 'run']);
    expect(next.code, next.stderr).toBe(0);
    const summary = (JSON.parse(next.stdout) as { backups: { summary: { bytes: number; dataBlobs: number; newDataBlobs: number } }[] }).backups[0]!.summary;
    // Some blobs were already in the repository from the interrupted run.
    expect(summary.newDataBlobs).toBeLessThan(summary.dataBlobs);
  });

  it('kill -9 at random moments never leaves a partial snapshot listed; the next run succeeds and restores', async () => {
    const verified = new Set(await listIds());
    // Kill points are drawn inside the measured length of a full run, so every kill lands mid-run
    // however fast or slow the machine is; a run that ended before its kill point (the disk got
    // faster than when it was measured) is the new measure, and another attempt is made.
    const timed = Date.now();
    const full = await ws.run(['backup', 'run', '--type', 'full']);
    expect(full.code, full.stderr).toBe(0);
    let duration = Date.now() - timed;
    let killed = 0;
    for (let i = 0; killed < 10 && i < 20; i++) {
      await writeFile(join(src, `d${i % 10}`, 'changed'), randomBytes(8 * 1024 * 1024));
      const started = Date.now();
      const r = await runAndSignal(ws.config, ws.env, 'SIGKILL', Math.floor(duration * (0.1 + 0.8 * Math.random())), ['--type', 'full']);
      if (r.signal === 'SIGKILL') killed++;
      else duration = Math.min(duration, Date.now() - started);
      const ids = await listIds();
      // Every listed backup must be complete: each one restores with --verify.
      for (const id of ids.filter((x) => !verified.has(x))) {
        verified.add(id);
        const target = join(tmp.path, `check-${i}-${id.slice(0, 8)}`);
        const restore = await ws.run(['restore', id, '--target', target, '--verify']);
        expect(restore.code, restore.stderr).toBe(0);
      }
    }
    expect(killed).toBeGreaterThanOrEqual(8);
    const final = await ws.run(['backup', 'run']);
    expect(final.code, final.stderr).toBe(0);
    const target = join(tmp.path, 'final');
    const restore = await ws.run(['restore', '--target', target, '--verify']);
    expect(restore.code, restore.stderr).toBe(0);
    const [a, b] = await Promise.all([describeTree(Buffer.from(src)), describeTree(Buffer.from(join(target, src)))]);
    for (const [key, facts] of a) expect(b.get(key)?.sha256, key).toBe(facts.sha256);
    // The kills left packs no index names, never damage.
    const verify = await ws.run(['backup', 'verify', '--read-data']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 120_000);
});
