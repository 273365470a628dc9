import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

describe('backup repair', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-repair-');
  });
  afterAll(() => tmp.cleanup());

  const setUp = async (name: string) => {
    const dir = join(tmp.path, name);
    const src = join(dir, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    const kept = randomBytes(64 * 1024);
    await writeFile(join(src, 'small.txt'), kept);
    const ws = await makeWorkspace(dir, [src], { compression: { enabled: false, algorithm: 'lz4' } });
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    // The second backup's new file goes to packs of its own.
    await writeFile(join(src, 'sub', 'big.bin'), randomBytes(6 * 1024 * 1024));
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    return { dir, src, ws, kept };
  };

  it('repair index rebuilds a deleted index from the packs, and verify is clean again', async () => {
    const { ws, dir, src, kept } = await setUp('index');
    for (const f of await readdir(join(ws.repo, 'index'))) await rm(join(ws.repo, 'index', f));
    expect((await ws.run(['backup', 'verify'])).code).toBe(5);

    const dry = await ws.run(['backup', 'repair', 'index', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/would index \d+ blobs in \d+ packs/);
    expect((await ws.run(['backup', 'verify'])).code).toBe(5);

    const r = await ws.run(['backup', 'repair', 'index']);
    expect(r.code, r.stderr).toBe(0);
    expect((await ws.run(['backup', 'verify', '--read-data'])).code).toBe(0);
    const target = join(dir, 'restored');
    expect((await ws.run(['restore', '--target', target, '--verify'])).code).toBe(0);
    expect((await readFile(join(target, src, 'small.txt'))).equals(kept)).toBe(true);
  });

  it('repair snapshots drops the files whose data is lost, keeps the rest restorable, and says what it dropped', async () => {
    const { ws, dir, src, kept } = await setUp('snapshots');
    // The largest pack holds the big file's chunks only.
    const packs: { path: string; size: number }[] = [];
    for (const sub of await readdir(join(ws.repo, 'data')))
      for (const p of await readdir(join(ws.repo, 'data', sub))) packs.push({ path: join(ws.repo, 'data', sub, p), size: (await stat(join(ws.repo, 'data', sub, p))).size });
    const largest = packs.sort((a, b) => b.size - a.size)[0]!;
    await rm(largest.path);

    const before = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as { id: string; time: string }[];
    const newest = before.sort((a, b) => b.time.localeCompare(a.time))[0]!;
    const r = await ws.run(['backup', 'repair', 'snapshots']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`backup ${newest.id.slice(0, 8)} replaced by [0-9a-f]{8}: drop 1 paths`));
    expect(r.stdout).toContain(`dropped ${join(src, 'sub', 'big.bin')}`);
    expect(r.stdout).not.toContain('small.txt');

    const after = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as { id: string; tags: string[] }[];
    expect(after).toHaveLength(2);
    const repaired = after.find((b) => b.tags.includes('repaired'))!;
    expect(after.filter((b) => b.tags.includes('repaired'))).toHaveLength(1);
    expect((await ws.run(['backup', 'repair', 'snapshots'])).stdout).toMatch(/every backup is intact/);
    const target = join(dir, 'restored');
    const restore = await ws.run(['restore', repaired.id, '--target', target, '--verify']);
    expect(restore.code, restore.stderr).toBe(0);
    expect((await readFile(join(target, src, 'small.txt'))).equals(kept)).toBe(true);
    await expect(stat(join(target, src, 'sub', 'big.bin'))).rejects.toThrow();
  });
});
