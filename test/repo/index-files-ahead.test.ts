import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IndexFilesAhead } from '../../src/repo/index-files-ahead.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';
import { recording } from '../helpers/recording-adapter.js';

describe('IndexFilesAhead', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-ahead-');
    await mkdir(join(tmp.path, 'index'));
    for (let i = 0; i < 20; i++) await writeFile(join(tmp.path, 'index', `file-${String(i).padStart(2, '0')}`), `content ${i}`);
  });
  afterEach(() => tmp.cleanup());

  it('reads a few files ahead of their use, in order, and each once', async () => {
    const adapter = recording(createLocalAdapter({ name: 'ahead', path: tmp.path }));
    const files = await IndexFilesAhead.list(adapter, true);
    expect(files.keys).toHaveLength(20);
    // Eight at once, not all twenty: a repository of thousands of small index files must not open them all.
    expect(adapter.gets).toHaveLength(8);
    const contents: string[] = [];
    for (const [i, key] of files.keys.entries()) {
      contents.push((await files.take(i)).toString());
      expect(adapter.gets.length).toBeLessThanOrEqual(Math.min(20, i + 1 + 8));
      expect(adapter.gets.slice(0, i + 1).map((g) => g.key)).toContain(key);
    }
    expect(contents).toEqual(files.keys.map((k) => `content ${Number(k.slice(-2))}`));
    expect(adapter.gets.map((g) => g.key)).toEqual(files.keys);
  });

  it('reads nothing ahead when not asked to, and reports a failed read when its file is taken', async () => {
    const adapter = recording(createLocalAdapter({ name: 'ahead', path: tmp.path }));
    expect((await IndexFilesAhead.list(adapter, false)) && adapter.gets).toHaveLength(0);
    const files = await IndexFilesAhead.list(adapter, true);
    // Gone between the listing and the read (beyond the files read ahead): its turn fails, the others read.
    await rm(join(tmp.path, 'index', 'file-15'));
    for (let i = 0; i < 20; i++) {
      if (i === 15) await expect(files.take(i)).rejects.toThrow();
      else await expect(files.take(i)).resolves.toEqual(Buffer.from(`content ${i}`));
    }
    await files.settled();
  });
});
