import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreTree } from '../../src/backup/restorer.js';
import { Repository } from '../../src/repo/repository.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';
import { treeNode as node } from '../helpers/tree-nodes.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('restoreTree', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let repo: Repository | undefined;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-restorer-');
  });
  afterEach(async () => {
    // An open repository keeps its pack files open until garbage collection.
    await repo?.close();
    repo = undefined;
    await tmp.cleanup();
  });

  it('restores the content of a file whose node records another size, warns, and fails its verification', async () => {
    repo = await Repository.create(createLocalAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    const data = randomBytes(100_000);
    const more = randomBytes(50_000);
    for (const blob of [data, more]) await repo.saveBlob('data', sha(blob), blob);
    // As a bkdr that recorded the stat's size wrote a file that shrank while it was read (and one that grew).
    const tree = await repo.saveTree([
      node('shrunk', { size: 400_000, content: [sha(data), sha(more)] }),
      node('grown', { size: 120_000, content: [sha(data), sha(more)] }),
      node('intact', { size: 100_000, content: [sha(data)] }),
    ]);
    await repo.flush();
    const target = join(tmp.path, 'target');
    const restored = await restoreTree({ repo, tree, target, verify: true });
    // What the backup holds, no zeros after it, nothing cut off.
    expect(await readFile(join(target, 'shrunk'))).toEqual(Buffer.concat([data, more]));
    expect(await readFile(join(target, 'grown'))).toEqual(Buffer.concat([data, more]));
    expect(await readFile(join(target, 'intact'))).toEqual(data);
    expect(restored.bytes).toBe(400_000);
    expect(restored.warnings.sort()).toEqual([
      `${join(target, 'grown')}: the backup records 120000 bytes, its content holds 150000; restored the content`,
      `${join(target, 'shrunk')}: the backup records 400000 bytes, its content holds 150000; restored the content`,
    ]);
    expect(restored.verified).toEqual({ files: 3, mismatches: expect.arrayContaining([join(target, 'shrunk'), join(target, 'grown')]) as unknown });
    expect(restored.verified!.mismatches).toHaveLength(2);
  });
});
