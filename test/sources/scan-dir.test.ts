import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TreeNode } from '../../src/repo/tree-node.js';
import { setXattr } from '../../src/sources/files/native.js';
import { readDirNames } from '../../src/sources/files/read-dir.js';
import { ENTRY_DIGEST_BYTES, matchEntryDigests, scanDir, scanDirs } from '../../src/sources/files/scan-dir.js';
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
    // Only the entry whose time the scan's slots cannot hold takes an lstat of its own.
    expect(scan.names.filter((_, i) => scan.statedAgain(i)).map(String)).toEqual(['future']);
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
    const empty = await scanDir(Buffer.from(join(dir, 'empty')), 10);
    expect([empty.names, empty.paths, empty.nodes]).toEqual([[], [], []]);
    expect(empty.digest).toHaveLength(32);
  });

  it('digests a stat’ed listing: the same while nothing but access times moved, another after any other change', async () => {
    const dir = join(tmp.path, 'd');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'file'), 'content');
    symlinkSync('file', join(dir, 'link'));
    // An access time before the mtime: a read moves it even under relatime.
    utimesSync(join(dir, 'file'), new Date('2001-01-01T00:00:00Z'), new Date());
    const digest = async () => (await scanDir(Buffer.from(dir), 1024)).digest!.toString('hex');
    const first = await digest();
    expect(await digest()).toBe(first);
    const atimeBefore = statSync(join(dir, 'file')).atimeMs;
    readFileSync(join(dir, 'file'));
    // On a noatime mount the read moves nothing; the digest stays the same either way.
    expect(statSync(join(dir, 'file')).atimeMs >= atimeBefore).toBe(true);
    expect(await digest()).toBe(first);

    const changes: [string, () => void][] = [
      ['mode', () => chmodSync(join(dir, 'file'), 0o600)],
      ['content of the same size', () => writeFileSync(join(dir, 'file'), 'CONTENT')],
      ['a file in a subdirectory', () => writeFileSync(join(dir, 'sub', 'new'), '')],
      ['a symlink’s target', () => (rmSync(join(dir, 'link')), symlinkSync('elsewhere', join(dir, 'link')))],
      ['a name', () => renameSync(join(dir, 'file'), join(dir, 'renamed'))],
    ];
    const seen = new Set([first]);
    for (const [what, change] of changes) {
      change();
      const after = await digest();
      expect(seen.has(after), what).toBe(false);
      seen.add(after);
    }
  });

  it('digests each entry of a stat’ed listing: the same while only its access time moved, another once it changed, the others’ as they were', async () => {
    const dir = join(tmp.path, 'd');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    for (const name of ['a', 'b', 'c']) writeFileSync(join(dir, name), name);
    symlinkSync('a', join(dir, 'link'));
    utimesSync(join(dir, 'a'), new Date('2001-01-01T00:00:00Z'), new Date());
    const digests = async () => {
      const scan = await scanDir(Buffer.from(dir), 1024);
      const all = scan.entryDigests!;
      expect(all.length).toBe(scan.names.length * ENTRY_DIGEST_BYTES);
      return new Map(scan.names.map((n, i) => [n.toString(), all.toString('hex', i * ENTRY_DIGEST_BYTES, (i + 1) * ENTRY_DIGEST_BYTES)]));
    };
    const first = await digests();
    expect(new Set(first.values()).size).toBe(5);
    readFileSync(join(dir, 'a'));
    expect(await digests()).toEqual(first);
    const changes: [string, string, () => void][] = [
      ['a', 'mode', () => chmodSync(join(dir, 'a'), 0o600)],
      ['b', 'content of the same size', () => writeFileSync(join(dir, 'b'), 'B')],
      ['link', 'a symlink’s target', () => (rmSync(join(dir, 'link')), symlinkSync('c', join(dir, 'link')))],
      ['sub', 'a file in it', () => writeFileSync(join(dir, 'sub', 'new'), '')],
    ];
    let before = first;
    for (const [name, what, change] of changes) {
      change();
      const after = await digests();
      for (const [other, digest] of before) expect(after.get(other) === digest, `${what}: ${other}`).toBe(other !== name);
      before = after;
    }
    // None for a listing not stat'ed.
    expect((await scanDir(Buffer.from(dir), 2)).entryDigests).toBeUndefined();
  });

  it('matches entries’ digests with those of a tree’s nodes', () => {
    const digest = (n: number) => Buffer.alloc(ENTRY_DIGEST_BYTES, n);
    // Two that agree in their first 8 bytes only, and must not be taken for each other.
    const near = Buffer.concat([Buffer.alloc(8, 9), Buffer.alloc(8, 1)]);
    const nodes = Buffer.concat([digest(1), digest(2), digest(3), near]);
    const entries = Buffer.concat([digest(3), digest(7), digest(1), Buffer.concat([Buffer.alloc(8, 9), Buffer.alloc(8, 2)]), near]);
    expect([...matchEntryDigests(entries, nodes)]).toEqual([2, -1, 0, -1, 3]);
    expect([...matchEntryDigests(entries, Buffer.alloc(0))]).toEqual([-1, -1, -1, -1, -1]);
    expect(() => matchEntryDigests(Buffer.alloc(5), nodes)).toThrow(/whole digests/);
  });

  it('tells directories, and whether a file still has the identity its scan gave it, without building every node', async () => {
    const dir = join(tmp.path, 'd');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'file'), 'content');
    const scan = await scanDir(Buffer.from(dir), 1024);
    expect(scan.names.map((n, i) => [n.toString(), scan.isDirectory(i)])).toEqual([
      ['file', false],
      ['sub', true],
    ]);
    const file = scan.node(0) as TreeNode;
    expect(scan.node(0)).toBe(file);
    expect(scan.sameAsScanned(0, file)).toBe(true);
    writeFileSync(join(dir, 'file'), 'longer content');
    const [changed] = await statNodes([scan.paths[0]!], [scan.names[0]!]);
    expect(scan.sameAsScanned(0, changed as TreeNode)).toBe(false);
    expect(scan.sameAsScanned(0, { ...file, size: 14 })).toBe(false);
  });

  it("gives the root's paths with one slash", async () => {
    const scan = await scanDir(Buffer.from('/'), 1024);
    const i = scan.names.findIndex((n) => n.equals(Buffer.from('tmp')));
    expect(scan.paths[i]!.toString()).toBe('/tmp');
    expect(scan.nodes![i]).toMatchObject({ type: 'dir' });
  });

  it('scans several directories in one trip, each as scanDir does, a failure as that directory’s own', async () => {
    const dirs = ['a', 'b', 'missing'].map((d) => join(tmp.path, d));
    mkdirSync(dirs[0]!);
    mkdirSync(dirs[1]!);
    writeFileSync(join(dirs[0]!, 'file'), 'x');
    symlinkSync('file', join(dirs[1]!, 'link'));
    const [a, b, missing] = await scanDirs(
      dirs.map((d) => Buffer.from(d)),
      1024,
    );
    for (const [i, scan] of [a, b].entries()) {
      const alone = await scanDir(Buffer.from(dirs[i]!), 1024);
      expect(scan).not.toBeInstanceOf(Error);
      expect((scan as typeof alone).names).toEqual(alone.names);
      expect((scan as typeof alone).digest).toEqual(alone.digest);
      // Reading a symlink's target moves its atime: the second scan sees the first one's read.
      const withoutAtime = (nodes: typeof alone.nodes) => nodes!.map((n) => ({ ...n, atimeNs: 0n }));
      expect(withoutAtime((scan as typeof alone).nodes)).toEqual(withoutAtime(alone.nodes));
    }
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'scandir', message: expect.stringContaining(dirs[2]!) });
    expect(await scanDirs([], 1024)).toEqual([]);
  });

  it('leaves the directories past a trip’s 8192 entries to be scanned alone', async () => {
    const dirs = ['a', 'b', 'c'].map((d) => join(tmp.path, d));
    for (const dir of dirs.slice(0, 2)) {
      mkdirSync(dir);
      for (let i = 0; i < 4100; i++) writeFileSync(join(dir, `f${i}`), '');
    }
    mkdirSync(dirs[2]!);
    const scans = await scanDirs(
      dirs.map((d) => Buffer.from(d)),
      1024,
    );
    expect(scans.map((s) => (s instanceof Error ? s : s?.names.length))).toEqual([4100, 4100, undefined]);
  });

  it('scans a lone subdirectory in the same trip, down a chain of at most eight, each as scanDir does', async () => {
    // x/d1/d2/.../d10, each with a file and a symlink to a directory beside its one subdirectory.
    let dir = join(tmp.path, 'x');
    const chain = [dir];
    for (let depth = 1; depth <= 10; depth++) {
      mkdirSync(dir);
      writeFileSync(join(dir, 'file'), String(depth));
      symlinkSync('.', join(dir, 'link'));
      dir = join(dir, `d${depth}`);
      chain.push(dir);
    }
    mkdirSync(dir);
    expect((await scanDir(Buffer.from(chain[0]!), 1024)).lone).toBeUndefined();
    for (const top of [await scanDir(Buffer.from(chain[0]!), 1024, true), (await scanDirs([Buffer.from(chain[0]!), Buffer.from(tmp.path)], 1024, true))[0] as Awaited<ReturnType<typeof scanDir>>]) {
      let scan = top;
      for (let depth = 1; depth <= 8; depth++) {
        const lone = scan.lone!;
        expect(lone.path.toString()).toBe(chain[depth]);
        const alone = await scanDir(lone.path, 1024);
        expect(lone.scan.names).toEqual(alone.names);
        expect(lone.scan.paths).toEqual(alone.paths);
        expect(lone.scan.digest).toEqual(alone.digest);
        scan = lone.scan;
      }
      // Eight below the one asked for: the ninth is left to the walk.
      expect(scan.lone).toBeUndefined();
    }
  });

  it('scans no subdirectory with its directory when there are two, the listing is not stat’ed or holds a .bkdrignore', async () => {
    const dir = join(tmp.path, 'two');
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    mkdirSync(join(dir, 'b'));
    expect((await scanDir(Buffer.from(dir), 1024, true)).lone).toBeUndefined();
    rmSync(join(dir, 'b'), { recursive: true });
    writeFileSync(join(dir, 'file'), 'x');
    expect((await scanDir(Buffer.from(dir), 1024, true)).lone?.path.toString()).toBe(join(dir, 'a'));
    expect((await scanDir(Buffer.from(dir), 1, true)).lone).toBeUndefined();
    // The ignore file may exclude the subdirectory: the walk decides, once it has read it.
    writeFileSync(join(dir, '.bkdrignore'), 'a\n');
    expect((await scanDir(Buffer.from(dir), 1024, true)).lone).toBeUndefined();
    writeFileSync(join(dir, 'a', '.bkdrignore'), 'b\n');
    rmSync(join(dir, '.bkdrignore'));
    const lone = (await scanDir(Buffer.from(dir), 1024, true)).lone!;
    expect(lone.path.toString()).toBe(join(dir, 'a'));
    expect(lone.scan.lone).toBeUndefined();
  });

  it('follows no lone subdirectory once a trip’s scans hold 8192 entries', async () => {
    const dir = join(tmp.path, 'wide');
    mkdirSync(join(dir, 'a', 'b', 'c'), { recursive: true });
    for (let i = 0; i < 8200; i++) writeFileSync(join(dir, 'a', `f${i}`), '');
    const lone = (await scanDir(Buffer.from(dir), 16384, true)).lone!;
    expect(lone.scan.names).toHaveLength(8201);
    expect(lone.scan.lone).toBeUndefined();
    // Scanned ahead with a sibling of 8000 entries, the directory's own subdirectory is the walk's to scan.
    mkdirSync(join(tmp.path, 'sibling'));
    for (let i = 0; i < 8000; i++) writeFileSync(join(tmp.path, 'sibling', `f${i}`), '');
    const [sibling, wide] = await scanDirs([Buffer.from(join(tmp.path, 'sibling')), Buffer.from(join(dir, 'a'))], 16384, true);
    expect((sibling as Awaited<ReturnType<typeof scanDir>>).names).toHaveLength(8000);
    expect((wide as Awaited<ReturnType<typeof scanDir>>).lone).toBeUndefined();
  });

  it('fails as readDirNames does', async () => {
    const missing = join(tmp.path, 'missing');
    await expect(scanDir(Buffer.from(missing), 1024)).rejects.toMatchObject({ code: 'ENOENT', syscall: 'scandir', message: expect.stringContaining(missing) });
    writeFileSync(join(tmp.path, 'file'), 'x');
    await expect(scanDir(Buffer.from(join(tmp.path, 'file')), 1024)).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
