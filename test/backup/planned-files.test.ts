import { describe, expect, it } from 'vitest';
import { PlannedFiles } from '../../src/backup/planned-files.js';
import type { TreeNode } from '../../src/repo/tree-node.js';

const node = (extra: Partial<TreeNode> = {}): TreeNode => ({
  name: Buffer.from('f'),
  type: 'file',
  mode: 0o640,
  uid: 1000,
  gid: 100,
  mtimeNs: 1_700_000_000_123_456_789n,
  atimeNs: 1_700_000_001_000_000_001n,
  ctimeNs: 1_700_000_002_000_000_000n,
  dev: 1n,
  inode: 2n,
  nlink: 1,
  ...extra,
});

describe('PlannedFiles', () => {
  it('gives back every field of thousands of files as planned, past its first columns and its first slab of paths', () => {
    const files = new PlannedFiles();
    // 3 000 files and paths of up to 2 KiB: the columns grow twice, the paths fill several slabs.
    for (let i = 0; i < 3000; i++) {
      const path = Buffer.from(`/target/${'d/'.repeat(i % 1000)}f${i}`);
      const n = files.add(path, node({ mode: i % 0o7777, uid: i, gid: i + 1, mtimeNs: BigInt(i) * 1_000_000_007n, atimeNs: -BigInt(i) }), i * 10, i * 2, i % 3, i % 2 === 0);
      expect(n).toBe(i);
    }
    expect(files.length).toBe(3000);
    for (const i of [0, 1, 999, 1000, 1023, 1024, 2047, 2048, 2999]) {
      expect(files.path(i).toString()).toBe(`/target/${'d/'.repeat(i % 1000)}f${i}`);
      expect([files.size(i), files.firstBlob(i), files.blobCount(i), files.force(i), files.createOnWrite(i), files.sparse(i)]).toEqual([i * 10, i * 2, i % 3, i % 2 === 0, i % 3 === 1, false]);
      expect(files.metadata(i)).toEqual({ type: 'file', mode: i % 0o7777, uid: i, gid: i + 1, mtimeNs: BigInt(i) * 1_000_000_007n, atimeNs: -BigInt(i), xattrs: undefined });
    }
  });

  it('keeps times far outside 64-bit nanoseconds, odd owner numbers and extended attributes exactly', () => {
    const files = new PlannedFiles();
    const far = 10n ** 20n;
    const xattrs = { 'user.a': Buffer.from('1') };
    files.add(Buffer.from('/t/old'), node({ mtimeNs: -far, atimeNs: far, uid: 4294967295, gid: -1 }), 0, 0, 0, false);
    files.add(Buffer.from('/t/x'), node({ xattrs }), 1, 0, 1, false);
    files.add(Buffer.from('/t/empty-xattrs'), node({ xattrs: {} }), 1, 1, 1, false);
    expect(files.metadata(0)).toMatchObject({ mtimeNs: -far, atimeNs: far, uid: 4294967295, gid: -1 });
    // 10^11 s either way is outside 64-bit nanoseconds but inside a double's exact seconds; 10^21 s is not.
    const farther = 10n ** 30n;
    files.add(Buffer.from('/t/older'), node({ mtimeNs: farther, atimeNs: 5n }), 0, 0, 0, false);
    expect(files.metadata(3)).toMatchObject({ mtimeNs: farther, atimeNs: 5n });
    expect([0, 1, 3].map((i) => files.hasWideTimes(i))).toEqual([false, false, true]);
    expect([files.hasXattrs(0), files.hasXattrs(1), files.hasXattrs(2)]).toEqual([false, true, false]);
    // Copied out of the tree's Buffers, which are slices of Buffer's pools (a kept slice keeps its pool).
    expect(files.metadata(1).xattrs).toEqual(xattrs);
    expect(files.metadata(1).xattrs!['user.a']!.buffer).not.toBe(xattrs['user.a'].buffer);
  });

  it('packs mode, owner and times as writeFiles takes them: seconds and nanoseconds, also before 1970', () => {
    const files = new PlannedFiles();
    files.add(Buffer.from('/t/a'), node({ atimeNs: -1n, mtimeNs: 1_700_000_000_123_456_789n }), 0, 0, 1, false);
    files.add(Buffer.from('/t/b'), node({ mode: 0o755, uid: 0, gid: 0, atimeNs: -1_500_000_000n, mtimeNs: 0n }), 0, 1, 1, false);
    const packed = new Float64Array(14);
    files.packMetadata(0, packed, 0);
    files.packMetadata(1, packed, 7);
    expect([...packed]).toEqual([0o640, 1000, 100, -1, 999_999_999, 1_700_000_000, 123_456_789, 0o755, 0, 0, -2, 500_000_000, 0, 0]);
  });

  it('plans a sparse file and a file of several blobs to be created before their writes, and records metadata applied per file', () => {
    const files = new PlannedFiles();
    files.add(Buffer.from('/t/sparse'), node({ sparse: true }), 100, 0, 1, false);
    files.add(Buffer.from('/t/many'), node(), 100, 1, 3, false);
    files.add(Buffer.from('/t/one'), node(), 10, 4, 1, false);
    expect([0, 1, 2].map((i) => [files.sparse(i), files.createOnWrite(i)])).toEqual([
      [true, false],
      [false, false],
      [false, true],
    ]);
    files.markMetadataApplied(2);
    expect([0, 1, 2].map((i) => files.metadataApplied(i))).toEqual([false, false, true]);
    expect([...files].map((f) => f.path.toString())).toEqual(['/t/sparse', '/t/many', '/t/one']);
  });
});
