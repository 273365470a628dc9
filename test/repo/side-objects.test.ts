import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repo/repository.js';
import type { StorageAdapter } from '../../src/storage/adapter.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';

describe('Repository side objects', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let adapter: StorageAdapter;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-side-');
    adapter = createLocalAdapter({ name: 'test-dest', path: join(tmp.path, 'repo') });
  });
  afterEach(() => tmp.cleanup());

  it('seals what is put under its prefix, and gives it back, lists, stats and deletes it', async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    const side = repo.sideObjects('extra/a/');
    const plain = Buffer.from('side content');
    await side.put('one', plain);
    await side.put('two', plain);
    await repo.sideObjects('extra/b/').put('three', plain);
    // Sealed: the plaintext is not on disk.
    expect((await readFile(join(tmp.path, 'repo', 'extra', 'a', 'one'))).includes(plain)).toBe(false);
    expect((await side.get('one'))?.equals(plain)).toBe(true);
    expect(await side.get('none')).toBeUndefined();
    expect((await side.stat('one'))?.size).toBeGreaterThan(plain.length);
    expect(await side.stat('none')).toBeUndefined();
    const names: string[] = [];
    for await (const obj of side.list()) names.push(obj.name);
    expect(names.sort()).toEqual(['one', 'two']);
    await side.delete('one');
    expect(await side.get('one')).toBeUndefined();

    const { tag, payload } = await side.compress(Buffer.from('x'.repeat(10_000)));
    expect(payload.length).toBeLessThan(10_000);
    expect((await side.decompress(tag, payload)).toString()).toBe('x'.repeat(10_000));
  });

  it('keeps clear of the repository’s own objects', async () => {
    const repo = await Repository.create(adapter, { password: null });
    for (const prefix of ['data/', 'index/', 'snapshots/', 'keys/', 'locks/', 'config/', 'extra']) expect(() => repo.sideObjects(prefix)).toThrow(/cannot hold side objects/);
  });
});
