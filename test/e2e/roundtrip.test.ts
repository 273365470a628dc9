import { randomBytes } from 'node:crypto';
import { chmod, chown, link, mkdir, open, symlink, writeFile, lstat } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mknod, setTimes, setXattr } from '../../src/sources/files/native.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { describeTree, type EntryFacts } from '../helpers/tree-compare.js';

const S_IFIFO = 0o010000;
const isRoot = process.getuid?.() === 0;

async function buildFidelityTree(src: string): Promise<void> {
  const p = (...parts: string[]) => join(src, ...parts);
  await mkdir(src, { recursive: true });
  await writeFile(p('empty.txt'), '');
  await writeFile(p('one-mib-plus-one.bin'), randomBytes(1024 * 1024 + 1));
  await writeFile(p('random-20m.bin'), randomBytes(20 * 1024 * 1024));
  await writeFile(p('l'.repeat(255)), 'long name');
  await writeFile(p('ünïcødé-文件-😀.txt'), 'unicode');
  await writeFile(p('new\nline.txt'), 'newline in the name');
  await writeFile(Buffer.concat([Buffer.from(src + '/'), Buffer.from([0x62, 0xff, 0xfe, 0x2e, 0x74])]), 'not utf-8');
  let deep = p('deep');
  for (let i = 0; i < 60; i++) deep = join(deep, `d${i}`);
  await mkdir(deep, { recursive: true });
  await writeFile(join(deep, 'bottom.txt'), 'sixty levels down');
  await mkdir(p('empty-dir'));
  await mkdir(p('private-dir'));
  await chmod(p('private-dir'), 0o700);
  for (const [name, mode] of [
    ['rw-owner', 0o600],
    ['exec', 0o755],
    ['read-only', 0o444],
    ['setuid', 0o4755],
  ] as const) {
    await writeFile(p(name), name);
    await chmod(p(name), mode);
  }
  await symlink('one-mib-plus-one.bin', p('link-relative'));
  await symlink('/etc/hostname', p('link-absolute'));
  await symlink('nowhere/at/all', p('link-dangling'));
  await writeFile(p('hardlink-a'), 'shared inode');
  await link(p('hardlink-a'), p('hardlink-b'));
  const sparse = await open(p('sparse-100m'), 'w');
  await sparse.truncate(100 * 1024 * 1024);
  await sparse.write(Buffer.from('a'), 0, 1, 0);
  await sparse.write(Buffer.from('b'), 0, 1, 50 * 1024 * 1024);
  await sparse.write(Buffer.from('c'), 0, 1, 100 * 1024 * 1024 - 1);
  await sparse.close();
  mknod(Buffer.from(p('fifo')), S_IFIFO | 0o640, 0n);
  setXattr(Buffer.from(p('exec')), 'user.bkdr', Buffer.from('xattr value'));
  await chown(p('rw-owner'), 1234, 5678);
  setTimes(Buffer.from(p('empty.txt')), 86_400_123_456_789n, 86_400_123_456_789n, false); // 1970
  setTimes(Buffer.from(p('read-only')), 4_102_444_800_987_654_321n, 4_102_444_800_987_654_321n, false); // 2100
  setTimes(Buffer.from(p('exec')), 1_700_000_000_123_456_789n, 1_700_000_000_123_456_789n, false);
  setTimes(Buffer.from(p('link-dangling')), 1_600_000_000_000_000_001n, 1_600_000_000_000_000_001n, false);
  setTimes(Buffer.from(p('empty-dir')), 1_500_000_000_999_999_999n, 1_500_000_000_999_999_999n, false);
  // After 2262: nanoseconds since 1970 no longer fit 64 bits. A small file (created with its
  // content), an empty one and a directory (times set by path) take the restore's three routes.
  await writeFile(p('after-2262.txt'), 'dated 2300');
  await writeFile(p('empty-after-2262'), '');
  await mkdir(p('dir-after-2262'));
  for (const name of ['after-2262.txt', 'empty-after-2262', 'dir-after-2262']) setTimes(Buffer.from(p(name)), AFTER_2262_NS, AFTER_2262_NS, false);
}

/** 2300-01-01T00:00:00.123456789Z. */
const AFTER_2262_NS = 10_413_792_000_123_456_789n;

function comparable(e: EntryFacts): Omit<EntryFacts, 'allocatedBytes'> {
  const { allocatedBytes: _ignored, ...rest } = e;
  return rest;
}

describe.skipIf(!isRoot)('round trip of a tree that exercises every kind of file and metadata', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-roundtrip-');
    src = join(tmp.path, 'src');
    await buildFidelityTree(src);
    ws = await makeWorkspace(tmp.path, [src]);
  });
  afterAll(() => tmp.cleanup());

  it('restores content and metadata identically, and sparse files stay sparse', async () => {
    const before = await describeTree(Buffer.from(src));
    const backup = await ws.run(['--json', 'backup', 'run']);
    expect(backup.stderr).not.toMatch(/warning/i);
    expect(backup.code, backup.stderr).toBe(0);

    const target = join(tmp.path, 'restored');
    const restore = await ws.run(['restore', '--target', target, '--verify']);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/all match/);

    const after = await describeTree(Buffer.from(join(target, src)));
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, facts] of before) {
      expect(comparable(after.get(key)!), Buffer.from(key, 'hex').toString()).toEqual(comparable(facts));
    }
    const sparse = after.get(Buffer.from('sparse-100m').toString('hex'))!;
    expect(sparse.size).toBe(100n * 1024n * 1024n);
    expect(sparse.allocatedBytes).toBeLessThan(1024n * 1024n);
    expect((await lstat(join(target, src, 'fifo'))).isFIFO()).toBe(true);
    // Equal to the source is not enough: a time that wrapped around on both sides would be equal too.
    for (const name of ['after-2262.txt', 'empty-after-2262', 'dir-after-2262']) expect(after.get(Buffer.from(name).toString('hex'))!.mtimeNs, name).toBe(AFTER_2262_NS);
  });
});

describe('access times', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  const ATIME_NS = 1_000_000_000_123_456_789n;
  const MTIME_NS = 1_600_000_000_987_654_321n;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-atime-');
    src = join(tmp.path, 'src');
    await mkdir(src);
    await writeFile(join(src, 'file.txt'), 'its access time is older than its mtime');
    setTimes(Buffer.from(join(src, 'file.txt')), ATIME_NS, MTIME_NS, false);
  });
  afterAll(() => tmp.cleanup());

  const restoredTimes = async (name: string, extra: Record<string, unknown>) => {
    await mkdir(join(tmp.path, name));
    const ws = await makeWorkspace(join(tmp.path, name), [src], extra);
    const backup = await ws.run(['backup', 'run']);
    expect(backup.code, backup.stderr).toBe(0);
    const target = join(tmp.path, name, 'restored');
    const restore = await ws.run(['restore', '--target', target]);
    expect(restore.code, restore.stderr).toBe(0);
    return statSync(join(target, src, 'file.txt'), { bigint: true });
  };

  it("restores a file's mtime as its access time by default, and its own access time with withAtime", async () => {
    const plain = await restoredTimes('plain', {});
    expect(plain.mtimeNs).toBe(MTIME_NS);
    expect(plain.atimeNs).toBe(MTIME_NS);
    const withAtime = await restoredTimes('with-atime', { sources: { files: { type: 'files', paths: [src], withAtime: true } } });
    expect(withAtime.mtimeNs).toBe(MTIME_NS);
    expect(withAtime.atimeNs).toBe(ATIME_NS);
    // The backups read the file without moving its access time.
    expect(statSync(join(src, 'file.txt'), { bigint: true }).atimeNs).toBe(ATIME_NS);
  });
});
