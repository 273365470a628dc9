import { createHash, randomFillSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignedBuffer } from '../../src/core/aligned-buffer.js';
import { AppendedFile } from '../../src/storage/direct-io.js';
import { makeTempDir } from '../helpers/cli.js';

/** File systems known to take O_DIRECT writes: ext4, xfs, btrfs (statfs magic numbers). */
const DIRECT_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e]);
const BLOCK = 4096;

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('AppendedFile', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-appended-');
  });
  afterEach(() => tmp.cleanup());

  it('writes whole blocks of an aligned buffer as it fills, the rest carried over, then the tail; bytes, hash, size and mode exact', async () => {
    const takesDirect = DIRECT_FILE_SYSTEMS.has((await statfs(tmp.path)).type);
    const path = join(tmp.path, 'pack');
    const source = randomFillSync(Buffer.allocUnsafe(7 * 1024 * 1024 + 5555));
    const buffer = alignedBuffer(3 * 1024 * 1024 + 123);
    const file = AppendedFile.create(path);
    let filled = 0;
    let taken = 0;
    const returned: number[] = [];
    // As the pack writer: fill the buffer in pieces of uneven size, append when full, and
    // copy what was not written to the buffer's start.
    while (taken < source.length) {
      const piece = Math.min(700_001, buffer.length - filled, source.length - taken);
      source.copy(buffer, filled, taken, taken + piece);
      filled += piece;
      taken += piece;
      if (filled < buffer.length) continue;
      const written = await file.append(buffer.subarray(0, filled));
      returned.push(written);
      buffer.copy(buffer, 0, written, filled);
      filled -= written;
    }
    expect(returned.length).toBeGreaterThan(1);
    if (takesDirect) {
      for (const written of returned) expect(written % BLOCK, `${written}`).toBe(0);
      expect(returned.every((written) => written > 0)).toBe(true);
    }
    expect(file.size).toBe(returned.reduce((a, b) => a + b, 0));
    const tail = randomFillSync(Buffer.allocUnsafe(777));
    const rest = Buffer.concat([buffer.subarray(0, filled), tail]);
    const done = await file.finish(rest);

    const onDisk = readFileSync(path);
    expect(onDisk.equals(Buffer.concat([source, tail]))).toBe(true);
    expect(done.sha256).toBe(sha256(onDisk));
    expect(done.size).toBe(onDisk.length);
    expect(file.size).toBe(onDisk.length);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('writes an unaligned buffer whole, buffered, and a final aligned one after it', async () => {
    const path = join(tmp.path, 'unaligned');
    const first = randomFillSync(Buffer.allocUnsafe(10000)).subarray(1);
    const last = randomFillSync(alignedBuffer(3 * BLOCK));
    const file = AppendedFile.create(path);
    expect(await file.append(first)).toBe(first.length);
    const done = await file.finish(last);
    const expected = Buffer.concat([first, last]);
    expect(readFileSync(path).equals(expected)).toBe(true);
    expect(done).toEqual({ sha256: sha256(expected), size: expected.length });
  });

  it('never writes over an existing file', async () => {
    const path = join(tmp.path, 'existing');
    writeFileSync(path, 'keep me');
    const file = AppendedFile.create(path);
    await expect(file.append(randomFillSync(alignedBuffer(2 * BLOCK)))).rejects.toMatchObject({ code: 'EEXIST', syscall: 'open' });
    file.close();
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  it('rejects appends once closed or finished; closes twice; finishes an empty file', async () => {
    const closed = AppendedFile.create(join(tmp.path, 'closed'));
    expect(await closed.append(Buffer.from('abc'))).toBe(3);
    closed.close();
    closed.close();
    await expect(closed.append(Buffer.from('more'))).rejects.toMatchObject({ code: 'EBADF' });
    await expect(closed.finish(Buffer.alloc(0))).rejects.toMatchObject({ code: 'EBADF' });
    expect(readFileSync(join(tmp.path, 'closed'), 'utf8')).toBe('abc');

    const emptyPath = join(tmp.path, 'empty');
    const empty = AppendedFile.create(emptyPath);
    expect(await empty.finish(Buffer.alloc(0))).toEqual({ sha256: sha256(Buffer.alloc(0)), size: 0 });
    expect(statSync(emptyPath).size).toBe(0);
    await expect(empty.append(Buffer.from('late'))).rejects.toMatchObject({ code: 'EBADF' });
    empty.close();

    // Closed before any append: nothing is created.
    const never = AppendedFile.create(join(tmp.path, 'never'));
    never.close();
    await expect(never.append(Buffer.from('x'))).rejects.toMatchObject({ code: 'EBADF' });
    expect(() => statSync(join(tmp.path, 'never'))).toThrow(/ENOENT/);
  });

  it('rejects a second append while one runs', async () => {
    const path = join(tmp.path, 'busy');
    const file = AppendedFile.create(path);
    const data = randomFillSync(alignedBuffer(4 * 1024 * 1024));
    const first = file.append(data);
    await expect(file.append(Buffer.from('x'))).rejects.toMatchObject({ code: 'EBUSY' });
    expect(await first).toBe(data.length);
    file.close();
    expect(readFileSync(path).equals(data)).toBe(true);
  });
});
