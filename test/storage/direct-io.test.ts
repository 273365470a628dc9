import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignedBuffer } from '../../src/core/aligned-buffer.js';
import { writeNewFileDurably } from '../../src/storage/direct-io.js';
import { makeTempDir } from '../helpers/cli.js';

/** File systems known to take O_DIRECT writes: ext4, xfs, btrfs (statfs magic numbers). */
const DIRECT_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e]);

function patterned(size: number, seed: number): Buffer {
  const buffer = alignedBuffer(size + 1);
  for (let k = 0; k < buffer.length; k++) buffer[k] = (k * 31 + seed) & 0xff;
  return buffer;
}

describe('writeNewFileDurably', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-direct-');
  });
  afterAll(() => tmp.cleanup());

  it('writes large aligned data with O_DIRECT (its partial last block buffered), other data buffered, every byte exact', async () => {
    const takesDirect = DIRECT_FILE_SYSTEMS.has((await statfs(tmp.path)).type);
    const cases = [
      { name: 'whole-blocks', data: patterned(4 * 1024 * 1024, 1).subarray(0, 4 * 1024 * 1024), direct: takesDirect },
      { name: 'partial-last-block', data: patterned(3 * 1024 * 1024 + 777, 2).subarray(0, 3 * 1024 * 1024 + 777), direct: takesDirect },
      { name: 'unaligned', data: patterned(2 * 1024 * 1024, 3).subarray(1), direct: false },
      { name: 'small', data: patterned(512 * 1024, 4).subarray(0, 512 * 1024), direct: false },
    ];
    for (const c of cases) {
      const path = join(tmp.path, c.name);
      const { direct } = await writeNewFileDurably(path, c.data);
      expect(readFileSync(path).equals(c.data), c.name).toBe(true);
      // On a file system not known either way, only the bytes are checked.
      if (takesDirect || !c.direct) expect(direct, c.name).toBe(c.direct);
    }
  });

  it('never writes over an existing file', async () => {
    const path = join(tmp.path, 'existing');
    writeFileSync(path, 'keep me');
    await expect(writeNewFileDurably(path, patterned(2 * 1024 * 1024, 5).subarray(0, 2 * 1024 * 1024))).rejects.toMatchObject({ code: 'EEXIST', syscall: 'open' });
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  // tmpfs takes O_DIRECT from Linux 6.6 on and refuses it before: either way the bytes arrive.
  it.skipIf(!existsSync('/dev/shm'))('stores large aligned data exactly on tmpfs', async () => {
    const shm = await makeTempDir('bkdr-direct-shm-', '/dev/shm');
    try {
      const data = patterned(2 * 1024 * 1024 + 5, 6).subarray(0, 2 * 1024 * 1024 + 5);
      await writeNewFileDurably(join(shm.path, 'x'), data);
      expect(readFileSync(join(shm.path, 'x')).equals(data)).toBe(true);
    } finally {
      await shm.cleanup();
    }
  });
});
