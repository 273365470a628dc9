import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { describeTree } from '../helpers/tree-compare.js';

describe('backup copy', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-copy-');
    src = join(tmp.path, 'src');
    await mkdir(join(src, 'd'), { recursive: true });
    for (let i = 0; i < 30; i++) await writeFile(join(src, 'd', `f${i}`), randomBytes(2000 + i));
    await writeFile(join(src, 'big'), randomBytes(3 * 1024 * 1024));
    ws = await makeWorkspace(tmp.path, [src], {
      destinations: [
        { name: 'primary', type: 'local', config: { path: join(tmp.path, 'a') } },
        { name: 'vault', type: 'local', encryption: false, compression: { enabled: true, algorithm: 'gzip' }, config: { path: join(tmp.path, 'b') } },
      ],
    });
  });
  afterAll(() => tmp.cleanup());

  it('copies backups with their data into another repository, once, and they restore identically', async () => {
    for (let i = 0; i < 2; i++) {
      await writeFile(join(src, 'd', 'changing'), `generation ${i}`);
      const r = await ws.run(['backup', 'run', '--destination', 'primary']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(JSON.parse((await ws.run(['--json', 'backup', 'list', '--destination', 'vault'])).stdout)).toEqual([]);

    const copy = await ws.run(['--json', 'backup', 'copy', '--from', 'primary', '--to', 'vault']);
    expect(copy.code, copy.stderr).toBe(0);
    const result = JSON.parse(copy.stdout) as { copied: { blobs: number }[]; skipped: unknown[] };
    expect(result.copied).toHaveLength(2);
    expect(result.copied[1]!.blobs).toBeLessThan(result.copied[0]!.blobs); // the second needs only what changed

    const again = JSON.parse((await ws.run(['--json', 'backup', 'copy', '--from', 'primary', '--to', 'vault'])).stdout) as { copied: unknown[]; skipped: unknown[] };
    expect(again).toMatchObject({ copied: [], skipped: [{}, {}] });

    const vault = JSON.parse((await ws.run(['--json', 'backup', 'list', '--destination', 'vault'])).stdout) as { id: string; parent?: string }[];
    expect(vault).toHaveLength(2);
    expect(vault[0]!.parent).toBe(vault[1]!.id);

    // From the target alone: the source repository is gone.
    await rm(join(tmp.path, 'a'), { recursive: true, force: true });
    const target = join(tmp.path, 'restored');
    const restore = await ws.run(['restore', '--from', 'vault', '--target', target, '--verify']);
    expect(restore.code, restore.stderr).toBe(0);
    const [a, b] = await Promise.all([describeTree(Buffer.from(src)), describeTree(Buffer.from(join(target, src)))]);
    for (const [key, facts] of a) expect(b.get(key)?.sha256, key).toBe(facts.sha256);
  });

  it('refuses to copy a destination onto itself', async () => {
    const r = await ws.run(['backup', 'copy', '--from', 'vault', '--to', 'vault']);
    expect(r.code).toBe(2);
  });
});

describe('restore fall-over on damaged data', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  afterAll(() => tmp.cleanup());

  it('restores from the next destination when a blob fails its check, and says so', async () => {
    tmp = await makeTempDir('bkdr-fallover-');
    const src = join(tmp.path, 'src');
    await mkdir(src, { recursive: true });
    const content = randomBytes(2 * 1024 * 1024);
    await writeFile(join(src, 'data.bin'), content);
    const ws = await makeWorkspace(tmp.path, [src], {
      compression: { enabled: false, algorithm: 'lz4' },
      destinations: [
        { name: 'first', type: 'local', priority: 1, encryption: false, config: { path: join(tmp.path, 'first') } },
        { name: 'second', type: 'local', priority: 2, config: { path: join(tmp.path, 'second') } },
      ],
    });
    expect((await ws.run(['backup', 'run'])).code).toBe(0);

    // Flip a byte inside every data pack of the first destination.
    const dataDir = join(tmp.path, 'first', 'data');
    for (const sub of await readdir(dataDir)) {
      for (const pack of await readdir(join(dataDir, sub))) {
        const file = join(dataDir, sub, pack);
        const bytes = await readFile(file);
        if (bytes.length < 1024 * 1024) continue; // tree packs are small; damage the data
        bytes[1000]! ^= 0xff;
        await writeFile(file, bytes);
      }
    }
    const target = join(tmp.path, 'restored');
    const r = await ws.run(['restore', '--target', target, '--verify']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/does not match its id \(damaged\); restoring from second instead/);
    expect((await readFile(join(target, src, 'data.bin'))).equals(content)).toBe(true);

    const pinned = await ws.run(['restore', '--from', 'first', '--target', join(tmp.path, 'pinned')]);
    expect(pinned.code).toBe(5);
  });
});
