import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkdrBin, makeTempDir, makeWorkspace } from '../helpers/cli.js';

interface Listed {
  id: string;
  time: string;
  strategy: string;
}

describe('backup watch (continuous strategy)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-watch-');
  });
  afterAll(() => tmp.cleanup());

  it('backs up a file written after it started within the RPO, and stops cleanly on SIGTERM', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'before.txt'), 'there at the start');
    // The repository and the catalog live inside the watched tree: their writes must not trigger backups.
    const ws = await makeWorkspace(tmp.path, [tmp.path], { strategy: 'continuous', rpo: '4s', destinations: [{ name: 'local', type: 'local', config: { path: join(tmp.path, 'repo') } }] });
    const child = spawn(process.execPath, [bkdrBin, '-c', ws.config, 'backup', 'watch'], { env: { ...process.env, ...ws.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const waitFor = async (what: () => boolean | Promise<boolean>, ms: number, label: string) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (await what()) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${label}; stderr: ${stderr}`);
    };
    const list = async () => JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as Listed[];

    await waitFor(() => /watching .* \(RPO 4\.0s\)/.test(stderr), 20_000, 'the watcher to start');
    // It took a backup of what was there when it started.
    expect(await list()).toHaveLength(1);

    const written = Date.now();
    await writeFile(join(src, 'after.txt'), 'written while watching');
    await waitFor(async () => (await list()).length === 2, 10_000, 'a backup of the new file');
    const landed = (await list()).sort((a, b) => a.time.localeCompare(b.time)).at(-1)!;
    expect(Date.now() - written).toBeLessThan(4000 + 1500); // the RPO, plus the time the polling itself takes
    expect(landed.strategy).toBe('continuous');
    expect(stderr).toMatch(/backup [0-9a-f]{8} succeeded \(\d+ changes?; oldest change waited \d/);

    // Restored outside the watched tree, so the restore is not a change.
    const target = await makeTempDir('bkdr-watch-restored-');
    expect((await ws.run(['restore', landed.id, '--target', target.path])).code).toBe(0);
    expect(await readFile(join(target.path, src, 'after.txt'), 'utf8')).toBe('written while watching');
    await target.cleanup();

    // Nothing changed since: no more backups, however long it runs.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await list()).toHaveLength(2);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/watch stopped after 2 backups/);
  });

  it('schedule run watches continuous sources next to its timer jobs', async () => {
    const dir = join(tmp.path, 'scheduled');
    const src = join(dir, 'src');
    await mkdir(src, { recursive: true });
    const ws = await makeWorkspace(dir, [src], { strategy: 'continuous', rpo: '3s' });
    const child = spawn(process.execPath, [bkdrBin, '-c', ws.config, 'schedule', 'run'], { env: { ...process.env, ...ws.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const waitFor = async (re: RegExp) => {
      const deadline = Date.now() + 20_000;
      while (!re.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(stderr).toMatch(re);
    };
    await waitFor(/watch: files: watching /);
    await writeFile(join(src, 'new.txt'), 'new');
    await waitFor(/watch: files: backup [0-9a-f]{8} succeeded \(\d+ changes?; oldest change waited/);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    const listed = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as Listed[];
    expect(listed.map((b) => b.strategy)).toEqual(['continuous', 'continuous']);
  });
});
