import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignedBuffer } from '../../src/core/aligned-buffer.js';
import { BufferPool } from '../../src/repo/buffer-pool.js';
import { PackBuilder, packKey, type PackRecord, parsePackHeader } from '../../src/repo/pack.js';
import { createLocalAdapter } from '../../src/storage/local.js';

const MiB = 1024 * 1024;

function records(sizes: number[]): PackRecord[] {
  return sizes.map((n, i) => ({ type: 'data', id: createHash('sha256').update(`blob ${i}`).digest('hex'), record: randomBytes(n), rawLength: n, compression: 0 }));
}

/** Puts records in as PackWriter does: sealed in place into the reserved tail when it has room, else copied in once there is room. */
async function fill(pack: PackBuilder, items: PackRecord[]): Promise<void> {
  for (const item of items) {
    const tail = pack.reserveTail(item.record.length);
    if (tail) {
      item.record.copy(tail);
      pack.commitTail([{ ...item, record: tail.subarray(0, item.record.length) }]);
      continue;
    }
    while (!pack.hasRoom(item.record.length)) await pack.makeRoom(item.record.length);
    pack.add(item);
  }
}

const temporaryFiles = (dir: string) => readdirSync(dir).filter((name) => name.startsWith('.tmp-'));

describe('a pack streamed to a local disk as it fills', () => {
  let dir: string;
  const pool = new BufferPool(64 * MiB, { allocate: alignedBuffer });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkdr-streamed-pack-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** The pack the records make held in memory: what a streamed one must store. */
  async function heldPack(items: PackRecord[]): Promise<{ id: string; bytes: Buffer; entries: PackBuilder['entries'] }> {
    const held = new PackBuilder(MiB);
    await fill(held, items);
    return { ...(await held.finish((header) => header, true)), entries: held.entries };
  }

  /** A pack streamed to a file in `dir`'s data folder, through a pooled buffer of `size` bytes. */
  const streamedPack = (size = 8 * MiB) => new PackBuilder(size, pool, createLocalAdapter({ name: 'dest', path: dir }).createStreamed!('data'));

  it('stores the bytes and id the same pack held in memory has, through a buffer smaller than the pack', async () => {
    // Records of odd sizes that cross the block and streaming thresholds, and one larger than the streamed pack's buffer.
    const items = records([100, 3 * MiB + 7, 4095, 1, 5 * MiB, 700_000, 2 * MiB - 3, 12 * MiB, 333]);
    const { id, bytes, entries } = await heldPack(items);
    const streamed = streamedPack();
    await fill(streamed, items.slice(0, 7));
    // Written while it fills, not held until finished.
    const [partial] = temporaryFiles(join(dir, 'data'));
    expect(statSync(join(dir, 'data', partial!)).size).toBeGreaterThan(0);
    await fill(streamed, items.slice(7));

    expect(await streamed.finishStreamed((header) => header, true)).toEqual({ id, size: bytes.length });
    await streamed.commit(packKey(id));
    streamed.release();
    const stored = readFileSync(join(dir, packKey(id)));
    expect(stored.equals(bytes)).toBe(true);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(id);
    expect(streamed.entries).toEqual(entries);
    expect(parsePackHeader(stored, stored.length, (header) => header, id)).toEqual(entries);
    expect(temporaryFiles(join(dir, 'data'))).toEqual([]);
  });

  it('moves what is left up only once no sealing writes into its tail', async () => {
    const items = records([MiB + 5, 300_000, 200_000, 2 * MiB + 1, 10]);
    const { id, bytes } = await heldPack(items);
    const streamed = streamedPack();
    // Past the threshold: its bytes are being written.
    await fill(streamed, items.slice(0, 1));
    // A sealing holds the tail while that write runs, and commits after it ended.
    const sealing = items[1]!;
    const tail = streamed.reserveTail(sealing.record.length)!;
    sealing.record.copy(tail);
    await new Promise((resolve) => setTimeout(resolve, 100));
    streamed.commitTail([{ ...sealing, record: tail.subarray(0, sealing.record.length) }]);
    await fill(streamed, items.slice(2));

    expect(await streamed.finishStreamed((header) => header, true)).toEqual({ id, size: bytes.length });
    await streamed.commit(packKey(id));
    expect(readFileSync(join(dir, packKey(id))).equals(bytes)).toBe(true);
  });

  it('seals and copies records within the first 4 MiB of its buffer, and gives back the pages a larger one took', async () => {
    const own = new BufferPool(32 * MiB, { allocate: alignedBuffer });
    const items = records([3 * MiB + 7, 2 * MiB, 6 * MiB, 100]);
    const { id, bytes } = await heldPack(items);
    const streamed = new PackBuilder(16 * MiB, own, createLocalAdapter({ name: 'dest', path: dir }).createStreamed!('data'));
    await fill(streamed, items.slice(0, 1));
    // The buffer has room for it, but not within the window while the first record is held (being written).
    expect(streamed.reserveTail(2 * MiB)).toBeUndefined();
    expect(streamed.hasRoom(2 * MiB)).toBe(false);
    // The 6 MiB record goes in once the buffer is empty.
    await fill(streamed, items.slice(1));
    expect(await streamed.finishStreamed((header) => header, true)).toEqual({ id, size: bytes.length });
    await streamed.commit(packKey(id));
    expect(readFileSync(join(dir, packKey(id))).equals(bytes)).toBe(true);
    // The same buffer, back from the pool: its pages past the window were given back (zeros), those before kept.
    const { buffer } = own.lease(16 * MiB);
    expect(buffer.subarray(4 * MiB, 6 * MiB - 4096).every((byte) => byte === 0)).toBe(true);
    expect(buffer.subarray(0, 4096).some((byte) => byte !== 0)).toBe(true);
  });

  it('leaves no file when discarded after parts were written', async () => {
    const streamed = streamedPack();
    // The third waits for room: the first two are being written by then.
    await fill(streamed, records([3 * MiB, 3 * MiB, 3 * MiB]));
    expect(temporaryFiles(join(dir, 'data'))).toHaveLength(1);
    await streamed.discard();
    expect(temporaryFiles(join(dir, 'data'))).toEqual([]);
  });

  it('fails to take more, and to finish, once its file cannot be written', async () => {
    // `data` is a file: the pack's file cannot be made under it.
    writeFileSync(join(dir, 'data'), 'not a directory');
    const streamed = streamedPack(4 * MiB);
    await expect(fill(streamed, records([3 * MiB, 3 * MiB, 3 * MiB]))).rejects.toMatchObject({ code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/) });
    await expect(streamed.finishStreamed((header) => header, true)).rejects.toMatchObject({ code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/) });
    await streamed.discard();
    expect(readFileSync(join(dir, 'data'), 'utf8')).toBe('not a directory');
  });
});
