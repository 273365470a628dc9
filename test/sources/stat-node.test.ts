import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { setXattr } from '../../src/sources/files/native.js';
import { statNode, statNodes, takeStats } from '../../src/sources/files/stat-node.js';
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
    // After 2262 its mtime in ns does not fit an int64: statMany leaves it to an lstat here.
    writeFileSync(p('future'), 'x');
    utimesSync(p('future'), new Date('2300-01-01T00:00:00Z'), new Date('2300-01-01T00:00:00Z'));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(p('socket'), resolve));
    onTestFinished(() => void server.close());
    const names = ['file', 'empty', 'with-xattr', 'sparse', 'dir', 'link', 'fifo', 'socket', 'missing', 'null', 'future'];
    // A character device: its rdev is recorded.
    const paths = names.map((n) => Buffer.from(n === 'null' ? '/dev/null' : p(n)));
    const nodes = await statNodes(
      paths,
      names.map((n) => Buffer.from(n)),
    );
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
    expect(byName.get('socket')).toMatchObject({ type: 'socket' });
    expect(byName.get('null')).toMatchObject({ type: 'chardev', rdev: statSync('/dev/null', { bigint: true }).rdev });
    expect(byName.get('future')).toMatchObject({ mtimeNs: BigInt(Date.parse('2300-01-01T00:00:00Z')) * 1_000_000n });
  });

  it('takeStats puts a newer stat into a node, dropping what the new one does not have, keeping its content', async () => {
    const path = join(tmp.path, 'retaken');
    writeFileSync(path, 'x'.repeat(100));
    setXattr(Buffer.from(path), 'user.tag', Buffer.from('old'));
    const node = await statNode(Buffer.from(path), Buffer.from('retaken'));
    node.content = ['ab'.repeat(32)];
    node.sparse = true;
    expect(node.xattrs).toBeDefined();
    // Replaced by a file without the attribute.
    rmSync(path);
    writeFileSync(path, 'y'.repeat(10));
    const fresh = await statNode(Buffer.from(path), Buffer.from('retaken'));
    takeStats(node, fresh);
    expect(node).toEqual({ ...fresh, content: ['ab'.repeat(32)] });
    expect(node.xattrs).toBeUndefined();
    expect(node.sparse).toBeUndefined();
  });
});
