import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setXattr } from '../../src/sources/files/native.js';
import { readDirNames } from '../../src/sources/files/read-dir.js';
import { scanDir } from '../../src/sources/files/scan-dir.js';
import { statNodes } from '../../src/sources/files/stat-node.js';
import { makeTempDir } from '../helpers/cli.js';

describe('scanDir', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-scandir-');
  });
  afterEach(() => tmp.cleanup());

  it("lists as readDirNames does and gives each entry's node as statNodes does", async () => {
    const dir = join(tmp.path, 'd');
    mkdirSync(dir);
    const names = [Buffer.from('b'), Buffer.from('a\nnewline'), Buffer.from([0x66, 0xff, 0x6f]), Buffer.from([0x66, 0x7f]), Buffer.from('ünï'), Buffer.from('.hidden'), Buffer.from('bb')];
    for (const name of names) writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), 'x');
    mkdirSync(join(dir, 'sub'));
    symlinkSync('b', join(dir, 'link'));
    // A target longer than a first read of 256 bytes would hold where a link's size is not known.
    symlinkSync('t'.repeat(1000), join(dir, 'long-link'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    writeFileSync(join(dir, 'future'), 'x');
    utimesSync(join(dir, 'future'), new Date('2300-01-01T00:00:00Z'), new Date('2300-01-01T00:00:00Z'));
    let xattrs = true;
    try {
      setXattr(Buffer.from(join(dir, 'b')), 'user.bkdr', Buffer.from('value'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTSUP') throw err;
      xattrs = false;
    }
    const scan = await scanDir(Buffer.from(dir), 1024);
    const listed = await readDirNames(Buffer.from(dir));
    expect(scan.names.map((n) => n.toString('hex'))).toEqual(listed.map((n) => n.toString('hex')));
    expect(scan.names.map((n) => n.toString('hex'))).toEqual([...scan.names].sort(Buffer.compare).map((n) => n.toString('hex')));
    expect(scan.paths.map((p) => p.toString('hex'))).toEqual(listed.map((n) => Buffer.concat([Buffer.from(`${dir}/`), n]).toString('hex')));
    const one = await statNodes(scan.paths, scan.names);
    expect(scan.nodes).toHaveLength(listed.length);
    for (const [i, node] of scan.nodes!.entries()) {
      const name = scan.names[i]!.toString();
      // Reading a symlink's target moves its atime: the second look sees the first one's read.
      if (name.endsWith('link')) (node as { atimeNs: bigint }).atimeNs = (one[i] as { atimeNs: bigint }).atimeNs;
      expect(node, name).toEqual(one[i]);
    }
    const byName = new Map(scan.names.map((n, i) => [n.toString(), scan.nodes![i]]));
    expect(byName.get('link')).toMatchObject({ type: 'symlink', linkTarget: Buffer.from('b') });
    expect(byName.get('long-link')).toMatchObject({ type: 'symlink', linkTarget: Buffer.from('t'.repeat(1000)) });
    expect(byName.get('sub')).toMatchObject({ type: 'dir' });
    expect(byName.get('fifo')).toMatchObject({ type: 'fifo' });
    expect(byName.get('future')).toMatchObject({ mtimeNs: BigInt(Date.parse('2300-01-01T00:00:00Z')) * 1_000_000n });
    if (xattrs) expect(byName.get('b')).toMatchObject({ xattrs: { 'user.bkdr': Buffer.from('value') } });
    expect(byName.get('bb')).not.toHaveProperty('xattrs');
  });

  it('lists without stat above the most entries asked for, and an empty directory', async () => {
    const dir = join(tmp.path, 'd');
    mkdirSync(dir);
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${i}`), '');
    const scan = await scanDir(Buffer.from(dir), 10);
    expect(scan.names).toHaveLength(20);
    expect(scan.nodes).toBeUndefined();
    expect((await scanDir(Buffer.from(dir), 20)).nodes).toHaveLength(20);
    mkdirSync(join(dir, 'empty'));
    expect(await scanDir(Buffer.from(join(dir, 'empty')), 10)).toEqual({ names: [], paths: [], nodes: [] });
  });

  it("gives the root's paths with one slash", async () => {
    const scan = await scanDir(Buffer.from('/'), 1024);
    const i = scan.names.findIndex((n) => n.equals(Buffer.from('tmp')));
    expect(scan.paths[i]!.toString()).toBe('/tmp');
    expect(scan.nodes![i]).toMatchObject({ type: 'dir' });
  });

  it('fails as readDirNames does', async () => {
    const missing = join(tmp.path, 'missing');
    await expect(scanDir(Buffer.from(missing), 1024)).rejects.toMatchObject({ code: 'ENOENT', syscall: 'scandir', message: expect.stringContaining(missing) });
    writeFileSync(join(tmp.path, 'file'), 'x');
    await expect(scanDir(Buffer.from(join(tmp.path, 'file')), 1024)).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
