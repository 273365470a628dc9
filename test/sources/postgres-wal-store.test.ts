import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, UsageError } from '../../src/core/errors.js';
import { Repository } from '../../src/repo/repository.js';
import { PostgresWalStore } from '../../src/sources/postgres-wal-store.js';
import type { StorageAdapter } from '../../src/storage/adapter.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** A WAL segment's worth of compressible bytes, smaller than 16 MiB. */
const segment = (fill: string) => Buffer.from(fill.repeat(20_000));

describe('PostgresWalStore', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let root: string;
  let adapter: StorageAdapter;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-wal-');
    root = join(tmp.path, 'repo');
    adapter = createLocalAdapter({ name: 'test-dest', path: root });
  });
  afterEach(() => tmp.cleanup());

  describe.each([
    ['encrypted', 'pw'],
    ['unencrypted', null],
  ] as const)('in an %s repository', (_, password) => {
    it('stores a pushed file and gives it back; pushing the same content again is a no-op', async () => {
      const repo = await Repository.create(adapter, { password });
      const wal = new PostgresWalStore(repo, 'db');
      const data = segment('wal record ');
      expect(await wal.put('000000010000000000000001', data)).toBe('stored');
      const stored = await readFile(join(root, 'wal', 'db', '000000010000000000000001'));
      expect(await wal.put('000000010000000000000001', data)).toBe('already archived');
      // Not written again.
      expect((await readFile(join(root, 'wal', 'db', '000000010000000000000001'))).equals(stored)).toBe(true);
      await repo.close();

      const reopened = await Repository.open(adapter, { password, skipIndex: true });
      expect((await new PostgresWalStore(reopened, 'db').get('000000010000000000000001'))?.equals(data)).toBe(true);
      expect(await new PostgresWalStore(reopened, 'db').get('000000010000000000000002')).toBeUndefined();
      // Another source's archive is its own.
      expect(await new PostgresWalStore(reopened, 'other').get('000000010000000000000001')).toBeUndefined();
    });

    it('refuses different content under a name already archived, and a name that is not a file name', async () => {
      const repo = await Repository.create(adapter, { password });
      const wal = new PostgresWalStore(repo, 'db');
      await wal.put('000000010000000000000001', segment('a'));
      await expect(wal.put('000000010000000000000001', segment('b'))).rejects.toThrow(IntegrityError);
      await expect(wal.put('000000010000000000000001', segment('b'))).rejects.toThrow(/already archived on test-dest with different content/);
      expect((await wal.get('000000010000000000000001'))?.equals(segment('a'))).toBe(true);
      await expect(wal.put('../config', segment('a'))).rejects.toThrow(UsageError);
    });

    it('lists a source’s files sorted by name, with what was pushed', async () => {
      const repo = await Repository.create(adapter, { password });
      const wal = new PostgresWalStore(repo, 'db');
      const files = { '000000010000000000000003': segment('3'), '00000002.history': Buffer.from('1\t0/3000000\tno recovery target specified\n'), '000000010000000000000001': randomBytes(100_000) };
      for (const [name, data] of Object.entries(files)) await wal.put(name, data);
      await new PostgresWalStore(repo, 'other').put('000000010000000000000002', segment('x'));

      const listed = await wal.list();
      expect(listed.map((f) => f.name)).toEqual(['000000010000000000000001', '000000010000000000000003', '00000002.history']);
      for (const f of listed) {
        const data = files[f.name as keyof typeof files];
        expect(f).toEqual({ name: f.name, size: data.length, sha256: sha(data), pushedAt: expect.any(String) });
        expect(Number.isNaN(Date.parse(f.pushedAt))).toBe(false);
      }
      expect(await new PostgresWalStore(repo, 'empty').list()).toEqual([]);
    });

    it('deletes a file, and only that one', async () => {
      const repo = await Repository.create(adapter, { password });
      const wal = new PostgresWalStore(repo, 'db');
      await wal.put('000000010000000000000001', segment('1'));
      await wal.put('000000010000000000000002', segment('2'));
      await wal.delete('000000010000000000000001');
      expect(await wal.get('000000010000000000000001')).toBeUndefined();
      expect((await wal.list()).map((f) => f.name)).toEqual(['000000010000000000000002']);
      // Pushed again after a delete: stored anew.
      expect(await wal.put('000000010000000000000001', segment('1'))).toBe('stored');
    });
  });

  it('checks what it gives back against the hash recorded at push', async () => {
    const repo = await Repository.create(adapter, { password: null, compression: { algorithm: 'none' } });
    const wal = new PostgresWalStore(repo, 'db');
    await wal.put('000000010000000000000001', segment('wal record '));
    const path = join(root, 'wal', 'db', '000000010000000000000001');
    const stored = await readFile(path);
    stored[stored.length - 1] = stored[stored.length - 1]! ^ 0xff;
    await writeFile(path, stored);
    await expect(wal.get('000000010000000000000001')).rejects.toThrow(IntegrityError);
    await expect(wal.get('000000010000000000000001')).rejects.toThrow('WAL file 000000010000000000000001 of db on test-dest is damaged');
  });

  it('refuses a file that fails authentication in an encrypted repository', async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    const wal = new PostgresWalStore(repo, 'db');
    await wal.put('000000010000000000000001', segment('wal record '));
    const path = join(root, 'wal', 'db', '000000010000000000000001');
    const stored = await readFile(path);
    stored[20] = stored[20]! ^ 0xff;
    await writeFile(path, stored);
    await expect(wal.get('000000010000000000000001')).rejects.toThrow('WAL file 000000010000000000000001 on test-dest fails authentication (damaged)');
    await expect(wal.list()).rejects.toThrow('WAL file wal/db/000000010000000000000001 on test-dest fails authentication (damaged)');
  });

  it('keeps the stored format: a JSON header line, then the payload compressed like a blob record', async () => {
    const repo = await Repository.create(adapter, { password: null, compression: { algorithm: 'gzip' } });
    const data = segment('wal record ');
    await new PostgresWalStore(repo, 'db').put('000000010000000000000001', data);
    const stored = await readFile(join(root, 'wal', 'db', '000000010000000000000001'));
    const newline = stored.indexOf(0x0a);
    const header = JSON.parse(stored.subarray(0, newline).toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(header)).toEqual(['name', 'size', 'sha256', 'pushedAt', 'compression']);
    // Tag 2: gzip.
    expect(header).toMatchObject({ name: '000000010000000000000001', size: data.length, sha256: sha(data), compression: 2 });
    expect(stored.length - newline - 1).toBeLessThan(data.length / 10);

    // An object written so by an earlier bkdr reads back.
    const payload = Buffer.from('written by hand');
    const old = { name: '000000010000000000000002', size: payload.length, sha256: sha(payload), pushedAt: '2024-01-01T00:00:00.000Z', compression: 0 };
    await adapter.put('wal/db/000000010000000000000002', Buffer.concat([Buffer.from(`${JSON.stringify(old)}\n`), payload]));
    expect((await new PostgresWalStore(repo, 'db').get('000000010000000000000002'))?.equals(payload)).toBe(true);
    expect((await new PostgresWalStore(repo, 'db').list())[1]).toEqual({ name: old.name, size: old.size, sha256: old.sha256, pushedAt: old.pushedAt });
  });
});
