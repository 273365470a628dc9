import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

/** Packs of a local repository, with their sizes, largest first. */
async function packs(repo: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const sub of await readdir(join(repo, 'data'))) {
    for (const name of await readdir(join(repo, 'data', sub))) {
      const path = join(repo, 'data', sub, name);
      out.push({ path, size: (await stat(path)).size });
    }
  }
  return out.sort((a, b) => b.size - a.size);
}

describe('backup verify', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  const content = { big: randomBytes(5 * 1024 * 1024), other: randomBytes(5 * 1024 * 1024) };

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-verify-');
  });
  afterAll(() => tmp.cleanup());

  // Each test damages the repository its own way: start from a fresh one.
  beforeEach(async () => {
    const dir = join(tmp.path, randomBytes(4).toString('hex'));
    src = join(dir, 'src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'big.bin'), content.big);
    ws = await makeWorkspace(dir, [src], { compression: { enabled: false, algorithm: 'lz4' } });
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    // The second backup's new file lands in packs of its own.
    await writeFile(join(src, 'other.bin'), content.other);
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
  });

  it('exits 0 on an intact repository, with and without reading the data', async () => {
    for (const args of [[], ['--read-data'], ['--all', '--test-restore']]) {
      const r = await ws.run(['backup', 'verify', ...args]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/: clean$/m);
    }
    const r = await ws.run(['backup', 'verify', '--test-restore']);
    expect(r.stdout).toMatch(/test restore of [0-9a-f]{8} \(files\): 2 files, 10\.0 MiB, all match/);
  });

  it('--read-data exits 5 after one byte of a pack is flipped, and names the files stored in it', async () => {
    const [first] = await packs(ws.repo);
    const bytes = await readFile(first!.path);
    bytes[1234]! ^= 0x01;
    await writeFile(first!.path, bytes);

    // The structure is intact: only reading the data finds it.
    expect((await ws.run(['backup', 'verify'])).code).toBe(0);
    const r = await ws.run(['backup', 'verify', '--read-data']);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/DAMAGE: pack [0-9a-f]{12}: its content does not match its name \(damaged\); 1 of its blobs cannot be read/);
    expect(r.stdout).toMatch(new RegExp(`backup [0-9a-f]{8}: ${join(src, '(big|other)\\.bin')}`));
    expect(r.stdout).toMatch(/: DAMAGED$/m);
    const json = JSON.parse((await ws.run(['--json', 'backup', 'verify', '--read-data'])).stdout) as { status: string; destinations: { report: { damagedPacks: { files: { path: string }[] }[] } }[] };
    expect(json.status).toBe('damaged');
    const damagedFiles = new Set(json.destinations[0]!.report.damagedPacks.flatMap((p) => p.files.map((f) => f.path)));
    expect(damagedFiles.size).toBe(1);

    // What is not in the damaged pack still restores.
    const intact = [...damagedFiles][0]!.endsWith('big.bin') ? 'other.bin' : 'big.bin';
    const target = join(tmp.path, `partial-${randomBytes(3).toString('hex')}`);
    const restore = await ws.run(['restore', '--target', target, '--include', `**/${intact}`]);
    expect(restore.code, restore.stderr).toBe(0);
    expect((await readFile(join(target, src, intact))).equals(intact === 'big.bin' ? content.big : content.other)).toBe(true);
  });

  it('a sampled --read-data rotates, so repeated runs cover every pack', async () => {
    const total = (await packs(ws.repo)).length;
    const first = JSON.parse((await ws.run(['--json', 'backup', 'verify', '--read-data=50'])).stdout) as {
      destinations: { report: { packs: { read: number } }; coverage: { checked: number; total: number } }[];
    };
    expect(first.destinations[0]!.report.packs.read).toBe(Math.ceil(total / 2));
    const second = JSON.parse((await ws.run(['--json', 'backup', 'verify', '--read-data=50'])).stdout) as typeof first;
    expect(second.destinations[0]!.coverage).toEqual({ checked: total, total });
  });

  it('a truncated pack, a deleted pack and a deleted index file are found by the structure check', async () => {
    const [largest, second] = await packs(ws.repo);
    await truncate(largest!.path, largest!.size - 100);
    let r = await ws.run(['backup', 'verify']);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/is \d+ bytes, the index says \d+ \(truncated or overwritten\)/);

    await rm(second!.path);
    r = await ws.run(['backup', 'verify']);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/DAMAGE: pack [0-9a-f]{12} is missing/);
    expect(r.stdout).toMatch(/\(missing\) holds data of \d+ files/);

    const [index] = await readdir(join(ws.repo, 'index'));
    await rm(join(ws.repo, 'index', index!));
    r = await ws.run(['backup', 'verify']);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/is not in the index/);
  });

  it('keeps each result in the catalog as evidence', async () => {
    const r = await ws.run(['--json', 'backup', 'verify']);
    const runId = (JSON.parse(r.stdout) as { runId: string }).runId;
    const logs = await ws.run(['--json', 'backup', 'logs', runId]);
    const parsed = JSON.parse(logs.stdout) as { run: { kind: string; status: string; summary: { status: string } } };
    expect(parsed.run).toMatchObject({ kind: 'verify', status: 'succeeded', summary: { status: 'clean' } });
  });
});
