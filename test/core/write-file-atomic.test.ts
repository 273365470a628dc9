import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/core/write-file-atomic.js';
import { makeTempDir } from '../helpers/cli.js';

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  tmp = await makeTempDir('bkdr-atomic-');
});
afterEach(() => tmp.cleanup());

describe.each([
  ['writeFileAtomic', (target: string, data: string, opts?: { mode?: number }) => writeFileAtomic(target, data, opts)],
  ['writeFileAtomicSync', async (target: string, data: string, opts?: { mode?: number }) => writeFileAtomicSync(target, data, opts)],
])('%s', (_, write) => {
  it('replaces the file whole, with the mode asked for, and leaves nothing beside it', async () => {
    const target = join(tmp.path, 'hints.json');
    await writeFile(target, 'old');
    await write(target, 'new', { mode: 0o600 });
    expect(await readFile(target, 'utf8')).toBe('new');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readdir(tmp.path)).toEqual(['hints.json']);
  });

  it('fails without touching the file or leaving a temporary one when the target cannot be replaced', async () => {
    const target = join(tmp.path, 'taken');
    await mkdir(join(target, 'inside'), { recursive: true });
    await expect(write(target, 'new')).rejects.toThrow();
    expect((await stat(target)).isDirectory()).toBe(true);
    expect(await readdir(tmp.path)).toEqual(['taken']);
  });
});

describe('writeFileAtomic in parts', () => {
  it('writes the parts in turn under the temporary name asked for, then renames it over the target', async () => {
    const target = join(tmp.path, 'cache');
    const temp = join(tmp.path, 'cache.saving-1');
    await writeFile(target, 'old');
    const beside: string[][] = [];
    async function* parts(): AsyncGenerator<Buffer> {
      for (const part of ['head', '', 'records', 'hash']) {
        beside.push((await readdir(tmp.path)).sort());
        yield Buffer.from(part);
      }
    }
    await writeFileAtomic(target, parts(), { mode: 0o600, temp });
    expect(await readFile(target, 'utf8')).toBe('headrecordshash');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(beside.at(-1)).toEqual(['cache', 'cache.saving-1']);
    expect(await readdir(tmp.path)).toEqual(['cache']);
  });

  it('fails, leaving alone a file that already has the temporary name', async () => {
    const target = join(tmp.path, 'cache');
    const temp = join(tmp.path, 'cache.saving-3');
    await writeFile(temp, 'another run');
    await expect(writeFileAtomic(target, 'new', { temp })).rejects.toThrow(/EEXIST/);
    expect(await readFile(temp, 'utf8')).toBe('another run');
    expect(await readdir(tmp.path)).toEqual(['cache.saving-3']);
  });

  it('leaves the target as it was, and no temporary file, when a part cannot be made', async () => {
    const target = join(tmp.path, 'cache');
    await writeFile(target, 'old');
    function* parts(): Generator<Buffer> {
      yield Buffer.from('half');
      throw new Error('the spill file cannot be read');
    }
    await expect(writeFileAtomic(target, parts(), { temp: join(tmp.path, 'cache.saving-2') })).rejects.toThrow('the spill file cannot be read');
    expect(await readFile(target, 'utf8')).toBe('old');
    expect(await readdir(tmp.path)).toEqual(['cache']);
  });
});
