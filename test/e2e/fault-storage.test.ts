import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveResult } from '../../src/backup/files-archiver.js';
import { archiveFiles } from '../../src/backup/files-archiver.js';
import { restoreTree } from '../../src/backup/restorer.js';
import { BkdrError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { Repository } from '../../src/repo/repository.js';
import type { StorageAdapter } from '../../src/storage/adapter.js';
import { type RetryPolicy, retrying } from '../../src/storage/retrying.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { failAfterBytes, faulty } from '../helpers/faulty-adapter.js';
import { describeTree } from '../helpers/tree-compare.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();

const run = promisify(execFile);
const MiB = 1024 * 1024;

/**
 * Mounting needs root (CI runs as root, a laptop usually not) and a kernel that allows
 * it in this container. Probed once, synchronously, because skipIf is decided while
 * the tests are collected, before any hook runs.
 */
function tmpfsUnavailable(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'bkdr-tmpfs-probe-'));
  try {
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
    if (mounted.error) return `cannot run mount: ${mounted.error.message}`;
    if (mounted.status !== 0) return `mount -t tmpfs failed: ${mounted.stderr.trim().split('\n')[0] || `exit ${mounted.status}`}`;
    spawnSync('umount', [dir]);
    return undefined;
  } finally {
    rmdirSync(dir);
  }
}

/** Every file below `dir`, relative to it; none when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

const noTmpfs = tmpfsUnavailable();

describe.skipIf(noTmpfs !== undefined)(`a destination whose file system is full (real ENOSPC on an 8 MiB tmpfs)${noTmpfs ? ` — skipped: ${noTmpfs}` : ''}`, () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  const mounts: string[] = [];
  let content: Buffer[];

  const mountTmpfs = async (name: string, size: string) => {
    const dir = join(tmp.path, name);
    await mkdir(dir);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  };
  // A remount keeps the files: the repository the failed run left is the one examined afterwards.
  const growTmpfs = (dir: string, size: string) => run('mount', ['-o', `remount,size=${size}`, dir]);

  const expectRestored = async (target: string) => {
    for (const [i, bytes] of content.entries()) expect((await readFile(join(target, src, `part${i}.bin`))).equals(bytes), `part${i}.bin`).toBe(true);
  };

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-enospc-');
    src = join(tmp.path, 'src');
    await mkdir(src);
    // Random bytes do not compress: 24 MiB stays 24 MiB and cannot fit in 8.
    content = [randomBytes(8 * MiB), randomBytes(8 * MiB), randomBytes(8 * MiB)];
    for (const [i, bytes] of content.entries()) await writeFile(join(src, `part${i}.bin`), bytes);
  });
  afterAll(async () => {
    for (const dir of mounts.reverse()) await run('umount', [dir]).catch(() => undefined);
    await tmp?.cleanup();
  });

  describe('as the only destination', () => {
    let repo: string;
    let ws: Awaited<ReturnType<typeof makeWorkspace>>;

    it('the run exits 1 with one stderr line naming the destination and ENOSPC, and leaves no backup', async () => {
      const mnt = await mountTmpfs('only', '8m');
      repo = join(mnt, 'repo');
      const dir = join(tmp.path, 'ws-only');
      await mkdir(dir);
      ws = await makeWorkspace(dir, [src], { destinations: [{ name: 'local', type: 'local', config: { path: repo } }] });

      const r = await ws.run(['backup', 'run']);
      expect(r.code, r.stderr).toBe(ExitCode.Failed);
      expect(r.stderr).toMatch(/^error: files → local: destination local: .*ENOSPC: no space left on device.*$/m);
      // What the failed run stored is named by an index, so the next run reuses it rather than leaving it to a prune;
      // when the very first pack did not fit, nothing was stored and nothing is said.
      const left = /the failed run left behind: its (\d+) packs \([\d.]+ MiB\) are kept and indexed for the next run to reuse/.exec(r.stderr);
      const packs = await filesUnder(join(repo, 'data'));
      expect(packs).toHaveLength(left ? Number(left[1]) : 0);
      expect(await filesUnder(join(repo, 'index'))).toHaveLength(packs.length > 0 ? 1 : 0);

      expect(JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout)).toEqual([]);
      expect(await filesUnder(join(repo, 'snapshots'))).toEqual([]);
      // The write that did not fit must not linger as a temp file eating what space is left.
      expect((await filesUnder(repo)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    });

    // Depends on the repository the previous test left on the full file system.
    it('once space is back, verify finds that repository clean and the next run backs up and restores', async () => {
      await growTmpfs(join(tmp.path, 'only'), '64m');

      // Packs written without an index before the failure, if any, are leftovers, not damage.
      const verify = await ws.run(['backup', 'verify']);
      expect(verify.code, verify.stdout + verify.stderr).toBe(ExitCode.Ok);
      expect(verify.stdout).toMatch(/: clean$/m);

      const r = await ws.run(['backup', 'run']);
      expect(r.code, r.stderr).toBe(ExitCode.Ok);
      expect(JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout)).toHaveLength(1);
      expect(await filesUnder(join(repo, 'snapshots'))).toHaveLength(1);

      const target = join(tmp.path, 'restored-only');
      const restore = await ws.run(['restore', '--target', target, '--verify']);
      expect(restore.code, restore.stderr).toBe(ExitCode.Ok);
      await expectRestored(target);
    });
  });

  describe('beside a destination with room', () => {
    let ws: Awaited<ReturnType<typeof makeWorkspace>>;
    const list = async (destination: string) => JSON.parse((await ws.run(['--json', 'backup', 'list', '--destination', destination])).stdout) as { id: string }[];

    it('the run exits 3: the other destination holds a backup that restores, the full one lists none', async () => {
      const mnt = await mountTmpfs('beside', '8m');
      const dir = join(tmp.path, 'ws-beside');
      await mkdir(dir);
      ws = await makeWorkspace(dir, [src], {
        destinations: [
          { name: 'local', type: 'local', config: { path: join(mnt, 'repo') } },
          { name: 'second', type: 'local', config: { path: join(dir, 'second') } },
        ],
      });

      const r = await ws.run(['backup', 'run']);
      expect(r.code, r.stderr).toBe(ExitCode.Partial);
      expect(r.stderr).toMatch(/^error: files → local: destination local: .*ENOSPC: no space left on device.*$/m);
      expect(r.stderr).not.toMatch(/^error: .*second/m);

      expect(await list('local')).toEqual([]);
      expect(await filesUnder(join(mnt, 'repo', 'snapshots'))).toEqual([]);
      expect(await list('second')).toHaveLength(1);

      const target = join(tmp.path, 'restored-second');
      const restore = await ws.run(['restore', '--from', 'second', '--target', target, '--verify']);
      expect(restore.code, restore.stderr).toBe(ExitCode.Ok);
      await expectRestored(target);
    });

    it('once space is back, the next run writes both destinations', async () => {
      await growTmpfs(join(tmp.path, 'beside'), '64m');
      const r = await ws.run(['backup', 'run']);
      expect(r.code, r.stderr).toBe(ExitCode.Ok);
      expect(await list('local')).toHaveLength(1);
      expect(await list('second')).toHaveLength(2);
    });
  });
});

describe('a destination that fails calls (library level)', () => {
  const password = 'test-password';
  // Small chunks in small packs: dozens of puts, stats and ranged gets, so faults land on every kind of call.
  const repoOpts = { password, packSize: 128 * 1024, chunker: { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 } };
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-faulty-');
    src = join(tmp.path, 'src');
    await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
    for (let i = 0; i < 3; i++) await writeFile(join(src, `big${i}.bin`), randomBytes(MiB + i * 4099));
    for (let i = 0; i < 40; i++) await writeFile(join(src, 'nested', `small${i}.txt`), randomBytes(100 + i * 37));
    await writeFile(join(src, 'nested', 'deeper', 'empty'), '');
  });
  afterAll(() => tmp.cleanup());

  const fastRetries = (onRetry?: () => void): RetryPolicy => ({ attempts: 12, baseDelayMs: 1, maxDelayMs: 4, ...(onRetry ? { onRetry } : {}) });

  function snapshotOf(archived: ArchiveResult, storedBytes: number) {
    const { tree, warnings: _warnings, ...counts } = archived;
    const now = new Date().toISOString();
    return {
      time: now,
      tree,
      paths: [src],
      hostname: 'test',
      username: 'test',
      source: 'files',
      strategy: 'full' as const,
      tags: [],
      startTime: now,
      endTime: now,
      summary: { ...counts, storedBytes },
      programVersion: 'test',
    };
  }

  /** What `backup run` does for one repository: archive, flush, and the snapshot last. */
  async function backUp(repo: Repository): Promise<string> {
    const archived = await archiveFiles({ repo, paths: [src], exclude: [], oneFileSystem: false });
    const flushed = await repo.flush();
    return repo.saveSnapshot(snapshotOf(archived, flushed.storedBytes));
  }

  async function expectRestoresIdentically(repo: Repository, snapshotId: string, target: string): Promise<void> {
    const snapshot = await repo.loadSnapshot(snapshotId);
    const result = await restoreTree({ repo, tree: snapshot.tree, target, verify: true });
    expect(result.verified?.mismatches).toEqual([]);
    const [original, restored] = await Promise.all([describeTree(Buffer.from(src)), describeTree(Buffer.from(join(target, src)))]);
    expect(restored.size).toBe(original.size);
    for (const [key, facts] of original) expect(restored.get(key)?.sha256, Buffer.from(key, 'hex').toString()).toBe(facts.sha256);
  }

  it('backs up and restores byte for byte through a destination failing 20% of its calls', async () => {
    const disk = localAdapter({ name: 'offsite', path: join(tmp.path, 'flaky-repo') });
    // With this seed the first faults fall on put and stat call 2, list call 3 and get call 9;
    // the run makes about 30 of each but lists, so every kind below is hit on every run.
    const flaky = faulty(disk, { failureRate: 0.2, seed: 20240611 });
    let retries = 0;
    const adapter = retrying(
      flaky,
      fastRetries(() => retries++),
    );

    const repo = await Repository.create(adapter, repoOpts);
    const snapshotId = await backUp(repo);
    await repo.close();

    const reopened = await Repository.open(adapter, repoOpts);
    expect((await reopened.listSnapshots()).map((s) => s.id)).toEqual([snapshotId]);
    await expectRestoresIdentically(reopened, snapshotId, join(tmp.path, 'restored-flaky'));

    expect(flaky.injectedBy.put).toBeGreaterThan(0);
    expect(flaky.injectedBy.get).toBeGreaterThan(0);
    expect(flaky.injectedBy.stat).toBeGreaterThan(0);
    // Each injected fault was retried: the product counts a reset as transient and hid every one.
    expect(retries).toBe(flaky.injected);
  });

  const brokenDisks: { when: string; breakDisk: (disk: StorageAdapter) => StorageAdapter; message: RegExp; code: string; retried: boolean }[] = [
    {
      when: 'every upload is reset, past all retries',
      breakDisk: (disk) => faulty(disk, { failureRate: 1, ops: ['put'] }),
      message: /^destination offsite: upload failed: .*ECONNRESET/,
      code: 'ECONNRESET',
      retried: true,
    },
    // A full disk stays full for the next attempt: retrying it only delays the error.
    {
      when: 'the destination fills up after 1 MiB',
      breakDisk: (disk) => failAfterBytes(disk, MiB),
      message: /^destination offsite: upload failed: ENOSPC: no space left on device/,
      code: 'ENOSPC',
      retried: false,
    },
  ];
  it.each(brokenDisks.map((c) => [c.when, c] as const))(
    'when %s: the backup fails naming the destination, leaves no backup, and a later one succeeds',
    async (_when, { breakDisk, message, code, retried }) => {
      const disk = localAdapter({ name: 'offsite', path: join(tmp.path, `broken-${randomBytes(4).toString('hex')}`) });
      await (await Repository.create(disk, repoOpts)).close();

      let retries = 0;
      const broken = await Repository.open(
        retrying(
          breakDisk(disk),
          fastRetries(() => retries++),
        ),
        repoOpts,
      );
      const err = await backUp(broken).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BkdrError);
      expect(err).toMatchObject({ exitCode: ExitCode.Failed, message: expect.stringMatching(message) });
      expect((err as Error).cause).toMatchObject({ code });
      expect(retries > 0).toBe(retried);

      expect(await (await Repository.open(disk, repoOpts)).listSnapshots()).toEqual([]);

      const clean = await Repository.open(disk, repoOpts);
      const snapshotId = await backUp(clean);
      expect((await clean.listSnapshots()).map((s) => s.id)).toEqual([snapshotId]);
      await expectRestoresIdentically(clean, snapshotId, join(tmp.path, `restored-${randomBytes(4).toString('hex')}`));
    },
  );
});
