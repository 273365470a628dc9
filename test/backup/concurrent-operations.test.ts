import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupManager } from '../../src/api/backup.js';
import type { BackupManager } from '../../src/backup/backup-manager.js';
import { LockedError } from '../../src/core/errors.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

/**
 * One BackupManager, several operations at once, as a GraphQL server or a DR executor
 * runs them: each operation opens its own repository session and holds its own locks.
 */
describe('operations of one manager running at the same time', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let manager: BackupManager;
  const content = new Map<string, Buffer>();

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-concurrent-');
    for (const source of ['a', 'b']) {
      await mkdir(join(tmp.path, source));
      for (let i = 0; i < 3; i++) {
        const bytes = randomBytes(4 * 1024 * 1024);
        content.set(join(tmp.path, source, `f${i}.bin`), bytes);
        await writeFile(join(tmp.path, source, `f${i}.bin`), bytes);
      }
    }
    const ws = await makeWorkspace(tmp.path, [], {
      sources: { a: { type: 'files', paths: [join(tmp.path, 'a')] }, b: { type: 'files', paths: [join(tmp.path, 'b')] } },
      retention: { last: 1 },
    });
    manager = await createBackupManager({ configPath: ws.config, password: 'test-password' });
    expect((await manager.createBackup('b')).status).toBe('succeeded');
  });
  afterAll(async () => {
    manager?.catalog.close();
    await tmp.cleanup();
  });

  const restoredMatches = async (target: string, source: string) => {
    for (const [path, bytes] of content) if (path.startsWith(join(tmp.path, source))) expect((await readFile(join(target, path))).equals(bytes), path).toBe(true);
  };

  it('a backup of source A and a restore of source B started together both succeed', async () => {
    const target = join(tmp.path, 'restored-b');
    const [backup, restore] = await Promise.all([manager.createBackup('a'), manager.restoreFromBackup({ source: 'b', targetLocation: target, verification: true })]);
    expect(backup.status).toBe('succeeded');
    expect(backup.backups).toHaveLength(1);
    expect(restore.restore?.verified?.mismatches).toEqual([]);
    await restoredMatches(target, 'b');
  });

  it('two restores of different backups at once both verify', async () => {
    const [first, second] = await Promise.all([
      manager.restoreFromBackup({ source: 'a', targetLocation: join(tmp.path, 'two-a'), verification: true }),
      manager.restoreFromBackup({ source: 'b', targetLocation: join(tmp.path, 'two-b'), verification: true }),
    ]);
    expect(first.backup.source).toBe('a');
    expect(second.backup.source).toBe('b');
    expect(first.restore?.verified?.mismatches).toEqual([]);
    expect(second.restore?.verified?.mismatches).toEqual([]);
    await restoredMatches(join(tmp.path, 'two-a'), 'a');
    await restoredMatches(join(tmp.path, 'two-b'), 'b');
  });

  it("a prune in the same process is refused by a running backup's lock, as between processes, and works once the backup is done", async () => {
    await writeFile(join(tmp.path, 'a', 'grown.bin'), randomBytes(48 * 1024 * 1024));
    let pruneTried!: () => void;
    const tried = new Promise<void>((resolve) => (pruneTried = resolve));
    let refusal: unknown;
    // The backup holds its shared lock from its first progress event until it ends; the prune asks meanwhile.
    const backup = manager.createBackup('a', {}, (e) => {
      if (e.type !== 'progress' || refusal !== undefined) return;
      refusal = null;
      void manager
        .pruneBackups()
        .then(
          (result) => (refusal = result),
          (err: unknown) => (refusal = err),
        )
        .finally(pruneTried);
    });
    await tried;
    const result = await backup;
    expect(result.status).toBe('succeeded');
    // Per destination: the prune's failure is the lock, with the exit code of a locked repository.
    expect(refusal).toMatchObject({ status: 'failed', failures: [{ destination: 'local', exitCode: new LockedError('').exitCode }] });
    expect((refusal as { failures: { error: string }[] }).failures[0]!.error).toMatch(/locked by .*shared lock for backup/);

    const after = await manager.pruneBackups();
    expect(after.status).toBe('succeeded');
  });
});
