import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/core/write-file-atomic.js';
import { makeTempDir } from '../helpers/cli.js';

describe.each([
  ['writeFileAtomic', (target: string, data: string, opts?: { mode?: number }) => writeFileAtomic(target, data, opts)],
  ['writeFileAtomicSync', async (target: string, data: string, opts?: { mode?: number }) => writeFileAtomicSync(target, data, opts)],
])('%s', (_, write) => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-atomic-');
  });
  afterEach(() => tmp.cleanup());

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
