import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CREATION_OPERATION, listLocks, RepositoryLock } from '../../src/repo/repository-lock.js';
import type { StorageAdapter } from '../../src/storage/adapter.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
let adapter: StorageAdapter;
beforeEach(async () => {
  tmp = await makeTempDir('bkdr-lock-');
  adapter = createLocalAdapter({ name: 'local', path: tmp.path });
});
afterEach(() => tmp.cleanup());

const shared = { exclusive: false, operation: 'backup' };
const exclusive = { exclusive: true, operation: 'prune' };

/** A pid that certainly belongs to no running process: a child that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('repository locks', () => {
  it('lets shared locks share, and releases them', async () => {
    const a = await RepositoryLock.acquire(adapter, shared);
    const b = await RepositoryLock.acquire(adapter, shared);
    expect(await listLocks(adapter)).toHaveLength(2);
    await a.release();
    await b.release();
    expect(await listLocks(adapter)).toEqual([]);
  });

  it('refuses an exclusive lock while a shared one is held, naming the holder, and leaves no trace', async () => {
    const held = await RepositoryLock.acquire(adapter, shared);
    await expect(RepositoryLock.acquire(adapter, exclusive)).rejects.toThrow(new RegExp(`destination local is locked by ${hostname()}:${process.pid} \\(shared lock for backup\\) since \\d{4}-`));
    await expect(RepositoryLock.acquire(adapter, exclusive)).rejects.toMatchObject({ exitCode: 4 });
    expect((await listLocks(adapter)).map((l) => l.id)).toEqual([held.id]);
    await held.release();
  });

  it('refuses a shared lock while an exclusive one is held', async () => {
    const held = await RepositoryLock.acquire(adapter, exclusive);
    await expect(RepositoryLock.acquire(adapter, shared)).rejects.toThrow(/exclusive lock for prune/);
    await held.release();
  });

  it('waits for a conflicting lock to go away when told to wait', async () => {
    const held = await RepositoryLock.acquire(adapter, shared);
    setTimeout(() => void held.release(), 300);
    const got = await RepositoryLock.acquire(adapter, { ...exclusive, waitMs: 10_000 });
    expect(got.exclusive).toBe(true);
    await got.release();
  });

  it("waits for a new repository's creation to finish, even when told not to wait", async () => {
    const creating = await RepositoryLock.acquire(adapter, { exclusive: true, operation: CREATION_OPERATION });
    setTimeout(() => void creating.release(), 300);
    const got = await RepositoryLock.acquire(adapter, shared);
    expect(await listLocks(adapter)).toEqual([expect.objectContaining({ id: got.id, operation: 'backup' })]);
    await got.release();
    // Any other exclusive lock is still refused at once.
    const held = await RepositoryLock.acquire(adapter, exclusive);
    await expect(RepositoryLock.acquire(adapter, shared)).rejects.toThrow(/exclusive lock for prune/);
    await held.release();
  });

  it('removes the lock of a process that is gone on this host, and says so', async () => {
    const now = new Date().toISOString();
    await adapter.put(
      'locks/deadbeef',
      Buffer.from(JSON.stringify({ version: 1, exclusive: true, operation: 'prune', hostname: hostname(), username: 'x', pid: deadPid(), createdAt: now, refreshedAt: now })),
    );
    const stale: string[] = [];
    const got = await RepositoryLock.acquire(adapter, { ...shared, onStale: (l, reason) => stale.push(`${l.id}: ${reason}`) });
    expect(stale).toEqual(['deadbeef: its process is gone']);
    expect((await listLocks(adapter)).map((l) => l.id)).toEqual([got.id]);
    await got.release();
  });

  it('ignores, but keeps, a lock from another host that has not been refreshed', async () => {
    const old = new Date(Date.now() - 3 * 3_600_000).toISOString();
    await adapter.put('locks/0ld', Buffer.from(JSON.stringify({ version: 1, exclusive: true, operation: 'prune', hostname: 'elsewhere', username: 'x', pid: 1, createdAt: old, refreshedAt: old })));
    const got = await RepositoryLock.acquire(adapter, shared);
    const locks = await listLocks(adapter);
    expect(locks.find((l) => l.id === '0ld')?.stale).toMatch(/not refreshed for 180 min/);
    await got.release();
  });

  it('keeps a lock fresh while it is held', async () => {
    const got = await RepositoryLock.acquire(adapter, { ...shared, refreshEveryMs: 50 });
    const first = (await listLocks(adapter))[0]!.refreshedAt;
    await new Promise((r) => setTimeout(r, 200));
    expect((await listLocks(adapter))[0]!.refreshedAt > first).toBe(true);
    await got.release();
  });
});
