import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignedBuffer } from '../../src/core/aligned-buffer.js';
import { readCached } from '../../src/storage/cached-read.js';
import { writeNewFileDurably } from '../../src/storage/direct-io.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { readAll } from '../../src/storage/adapter.js';
import { makeTempDir } from '../helpers/cli.js';

describe('readCached', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-cached-read-');
  });
  afterAll(() => tmp.cleanup());

  it('reads what the page cache holds, into the buffer at its offset, and no further than the end of the file', () => {
    const path = join(tmp.path, 'cached');
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    try {
      const into = Buffer.alloc(3_000, 0xee);
      expect(readCached(fd, into, 1_000, 2_000, 4_096)).toBe(2_000);
      expect(into.subarray(1_000).equals(data.subarray(4_096, 6_096))).toBe(true);
      expect(into.subarray(0, 1_000).every((b) => b === 0xee)).toBe(true);
      expect(readCached(fd, into, 0, 3_000, 9_000)).toBe(1_000);
      expect(readCached(fd, into, 0, 3_000, 20_000)).toBe(0);
    } finally {
      closeSync(fd);
    }
    // A closed descriptor, as a closed FileHandle's -1: nothing read here, the usual read reports it.
    expect(readCached(-1, Buffer.alloc(10), 0, 10, 0)).toBe(-1);
    expect(() => readCached(0, Buffer.alloc(10), 5, 10, 0)).toThrow(RangeError);
  });

  it('leaves to the pool what the page cache does not hold: a pack written past it is read whole all the same', async () => {
    const repo = join(tmp.path, 'repo');
    const key = 'data/ab/abcdef';
    const data = alignedBuffer(4 * 1024 * 1024);
    for (let k = 0; k < data.length; k++) data[k] = (k * 7 + 3) & 0xff;
    const adapter = createLocalAdapter({ name: 'dest', path: repo });
    // Written as a pack is, with O_DIRECT where the file system takes it: then not in the page cache.
    await mkdir(join(repo, 'data', 'ab'), { recursive: true });
    const { direct } = await writeNewFileDurably(join(repo, key), data);
    if (direct) {
      const fd = openSync(join(repo, key), 'r');
      try {
        expect(readCached(fd, Buffer.alloc(8192), 0, 8192, 1024 * 1024)).toBe(-1);
      } finally {
        closeSync(fd);
      }
    }
    const range = { offset: 1024 * 1024 + 5, length: 100_000 };
    try {
      const got = await readAll(await adapter.get(key, range));
      expect(got.equals(data.subarray(range.offset, range.offset + range.length))).toBe(true);
    } finally {
      // The pack's read handle is kept for the next read: left open, the garbage collector closed it, with Node's warning.
      await adapter.close?.();
    }
    expect(readFileSync(join(repo, key)).equals(data)).toBe(true);
  });
});
