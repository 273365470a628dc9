import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setXattr } from '../../src/sources/files/native.js';
import { statNode, statNodes } from '../../src/sources/files/stat-node.js';
import { makeTempDir } from '../helpers/cli.js';

describe('statNodes', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-stat-');
  });
  afterAll(() => tmp.cleanup());

  it('gives, for many paths at once, the nodes statNode gives one by one, and the error of a missing one', async () => {
    const p = (name: string) => join(tmp.path, name);
    writeFileSync(p('file'), 'content');
    writeFileSync(p('empty'), '');
    writeFileSync(p('with-xattr'), 'x');
    setXattr(Buffer.from(p('with-xattr')), 'user.bkdr', Buffer.from('value'));
    execFileSync('truncate', ['-s', '10M', p('sparse')]);
    mkdirSync(p('dir'));
    symlinkSync('file', p('link'));
    execFileSync('mkfifo', [p('fifo')]);
    const names = ['file', 'empty', 'with-xattr', 'sparse', 'dir', 'link', 'fifo', 'missing'];
    const paths = names.map((n) => Buffer.from(p(n)));
    const nodes = await statNodes(paths, names.map((n) => Buffer.from(n)));
    for (const [i, name] of names.entries()) {
      const node = nodes[i]!;
      if (name === 'missing') {
        expect(node).toBeInstanceOf(Error);
        expect((node as NodeJS.ErrnoException).code).toBe('ENOENT');
        continue;
      }
      const one = await statNode(paths[i]!, Buffer.from(name));
      // Reading a symlink's target moves its atime: the second look sees the first one's read.
      if (name === 'link') one.atimeNs = (node as { atimeNs: bigint }).atimeNs;
      expect(node, name).toEqual(one);
    }
    const byName = new Map(names.map((n, i) => [n, nodes[i]]));
    expect(byName.get('with-xattr')).toMatchObject({ xattrs: { 'user.bkdr': Buffer.from('value') } });
    expect(byName.get('sparse')).toMatchObject({ type: 'file', size: 10 * 1024 * 1024, sparse: true });
    expect(byName.get('link')).toMatchObject({ type: 'symlink', linkTarget: Buffer.from('file') });
    expect(byName.get('fifo')).toMatchObject({ type: 'fifo' });
  });
});
