import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateFilesSource, estimateFilesSourceLater } from '../../src/backup/source-estimate.js';
import { makeTempDir } from '../helpers/cli.js';

describe('source estimate', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-estimate-');
    await mkdir(join(tmp.path, 'sub', 'skip'), { recursive: true });
    await writeFile(join(tmp.path, 'a.txt'), 'x'.repeat(1000));
    await writeFile(join(tmp.path, 'sub', 'b.txt'), 'y'.repeat(24));
    await writeFile(join(tmp.path, 'sub', 'skip', 'c.txt'), 'z'.repeat(5000));
  });
  afterAll(() => tmp.cleanup());

  it('totals files and bytes, leaving out what is excluded', async () => {
    expect(await estimateFilesSource([tmp.path], ['**/skip'])).toEqual({ files: 2, bytes: 1024 });
  });

  it('reports later when the backup is still running, and never once it is stopped', async () => {
    const reported = await new Promise((resolve) => estimateFilesSourceLater([tmp.path], [], resolve, undefined, 10));
    expect(reported).toEqual({ files: 3, bytes: 6024 });

    const late: unknown[] = [];
    estimateFilesSourceLater([tmp.path], [], (e) => late.push(e), undefined, 50).stop();
    await new Promise((r) => setTimeout(r, 150));
    expect(late).toEqual([]);
  });
});
