import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupManager } from '../../src/api/backup.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

describe('verification after each backup, and the backup integrity DR test', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-verification-');
  });
  afterAll(() => tmp.cleanup());

  const workspace = async (name: string, extra: Record<string, unknown> = {}) => {
    const dir = join(tmp.path, name);
    const src = join(dir, 'src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'data.bin'), randomBytes(2 * 1024 * 1024));
    return { dir, src, ws: await makeWorkspace(dir, [src], extra) };
  };

  it('backup run checks what it wrote: a pack the new backup still needs but that is gone makes it exit 3 and say so', async () => {
    const { ws, src } = await workspace('structure');
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    // The unchanged file's data stays in the first backup's pack; delete every pack.
    for (const sub of await readdir(join(ws.repo, 'data'))) await rm(join(ws.repo, 'data', sub), { recursive: true });
    await writeFile(join(src, 'new.txt'), 'new');
    const r = await ws.run(['backup', 'run']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/verification after backup [0-9a-f]{8} found damage: .*pack [0-9a-f]{12} is missing/);
  });

  it('with verification.testRestore, each backup is restored into a scratch directory and compared', async () => {
    const { ws } = await workspace('test-restore', { verification: { enabled: true, checksumAlgorithm: 'sha256', testRestore: true } });
    const r = await ws.run(['--json', 'backup', 'run']);
    expect(r.code, r.stderr).toBe(0);
    const logs = JSON.parse((await ws.run(['--json', 'backup', 'logs', (JSON.parse(r.stdout) as { runId: string }).runId])).stdout) as { logs: { message: string }[] };
    expect(logs.logs.some((l) => /snapshot [0-9a-f]{8} verified \(structure; test restore of 1 files in \d+ ms\)/.test(l.message))).toBe(true);
  });

  it("testDisasterRecovery('backup-integrity-test') passes on intact backups with a measured restore, and fails on damage", async () => {
    const { ws } = await workspace('dr-test', { compression: { enabled: false, algorithm: 'lz4' } });
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    const manager = await createBackupManager({ configPath: ws.config, password: 'test-password' });
    const passed = await manager.testDisasterRecovery('backup-integrity-test', { readDataPercent: 100 });
    expect(passed.passed).toBe(true);
    expect(passed.restores).toHaveLength(1);
    expect(passed.restores[0]).toMatchObject({ destination: 'local', source: 'files', files: 1, bytes: 2 * 1024 * 1024, mismatches: [] });
    expect(passed.restores[0]!.durationMs).toBeGreaterThanOrEqual(0);

    for (const sub of await readdir(join(ws.repo, 'data'))) {
      for (const pack of await readdir(join(ws.repo, 'data', sub))) {
        const path = join(ws.repo, 'data', sub, pack);
        const { readFile } = await import('node:fs/promises');
        const bytes = await readFile(path);
        bytes[100]! ^= 0xff;
        await writeFile(path, bytes);
      }
    }
    const failed = await manager.testDisasterRecovery('backup-integrity-test', { readDataPercent: 100 });
    expect(failed.passed).toBe(false);
    expect(failed.reason).toBe('verify: damaged');
    await expect(manager.testDisasterRecovery('db-failure')).rejects.toThrow(/unknown backup DR test 'db-failure'/);
    manager.catalog.close();
  });
});
