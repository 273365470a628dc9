import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CompressionTag } from '../../src/repo/compression.js';
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
  });

  it.each([
    ['sealed', 'pw'],
    ['unencrypted', null],
  ])('stores objects compressed behind their header, %s, each intact though one compression buffer serves them all', async (_, password) => {
    const repo = await Repository.create(adapter, { password });
    const side = repo.sideObjects('wal/db/');
    // Three compressible objects over the reuse threshold (one after the other and two at once), one that does not compress, one small.
    const text = (seed: number, size: number) => Buffer.from(Array.from({ length: size / 8 }, (_, i) => `${(seed * 7919 + i) % 99991}`.padStart(8, '-')).join(''));
    const contents: [string, Buffer][] = [
      ['a', text(1, 2 * 1024 * 1024)],
      ['b', text(2, 3 * 1024 * 1024)],
      ['c', text(3, 2 * 1024 * 1024)],
      ['random', randomBytes(2 * 1024 * 1024)],
      ['small', Buffer.from('x'.repeat(10_000))],
    ];
    const tags = new Map<string, number>();
    const put = ([name, data]: [string, Buffer]) => side.putCompressed(name, data, (tag) => (tags.set(name, tag), Buffer.from(`${name}:${tag}\n`)));
    await put(contents[0]!);
    await Promise.all(contents.slice(1).map(put));
    for (const [name, data] of contents) {
      const stored = (await side.get(name))!;
      const newline = stored.indexOf(10);
      const tag = tags.get(name)!;
      expect(stored.subarray(0, newline).toString()).toBe(`${name}:${tag}`);
      const payload = stored.subarray(newline + 1);
      if (name === 'random') expect(tag).toBe(CompressionTag.none);
      else expect(payload.length).toBeLessThan(data.length * 0.7);
      expect((await side.decompress(tag, payload)).equals(data), name).toBe(true);
    }
  });

  it('keeps clear of the repository’s own objects', async () => {
    const repo = await Repository.create(adapter, { password: null });
    for (const prefix of ['data/', 'index/', 'snapshots/', 'keys/', 'locks/', 'config/', 'extra']) expect(() => repo.sideObjects(prefix)).toThrow(/cannot hold side objects/);
  });
});
