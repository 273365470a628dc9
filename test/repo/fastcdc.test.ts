import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunkContent, type ReadInto, streamReader } from '../../src/repo/content-chunker.js';
import { FastCdc } from '../../src/repo/fastcdc.js';

const params = { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024, seed: 'a'.repeat(64) };

function deterministicBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

async function chunks(data: Buffer, chunker: FastCdc, pieceSize = data.length, readSize?: number): Promise<Buffer[]> {
  async function* pieces() {
    for (let i = 0; i < data.length; i += pieceSize) yield data.subarray(i, i + pieceSize);
  }
  const out: Buffer[] = [];
  for await (const batch of chunkContent(streamReader(pieces()), chunker, readSize)) {
    for (const c of batch.chunks) {
      expect(c.id).toBe(createHash('sha256').update(c.data).digest('hex'));
      out.push(Buffer.from(c.data));
    }
    batch.release();
  }
  return out;
}

/**
 * The cut loop as bkdr 0.1 ran it in JavaScript. Repositories written then must keep
 * deduplicating, so the native chunker has to cut exactly here.
 */
function referenceCutPoint(chunker: FastCdc, buf: Uint8Array, start: number, end: number): number {
  const { minSize, avgSize, maxSize } = chunker.params;
  let n = end - start;
  if (n <= minSize) return n;
  if (n > maxSize) n = maxSize;
  const normal = Math.min(n, avgSize);
  let hash = 0;
  let i = start + minSize;
  for (; i < start + normal; i++) {
    hash = ((hash << 1) + chunker.gear[buf[i]!]!) >>> 0;
    if ((hash & chunker.maskS) === 0) return i - start + 1;
  }
  for (; i < start + n; i++) {
    hash = ((hash << 1) + chunker.gear[buf[i]!]!) >>> 0;
    if ((hash & chunker.maskL) === 0) return i - start + 1;
  }
  return n;
}

function referenceLengths(data: Buffer, chunker: FastCdc): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < data.length;) {
    const len = referenceCutPoint(chunker, data, pos, data.length);
    out.push(len);
    pos += len;
  }
  return out;
}

const lengths = (cs: Buffer[]) => cs.map((c) => c.length);

/** Text as a database dump has it: lines alike but for their numbers. */
const dumpLines = (count: number) => Buffer.from(Array.from({ length: count }, (_, i) => `INSERT INTO t VALUES (${i}, 'row ${(i * 7919) % 1000}');\n`).join(''));

describe('FastCDC', () => {
  const data = deterministicBytes(8 * 1024 * 1024, 1234);

  it('cuts exactly where the JavaScript chunker of earlier versions cut, on text and on random data', async () => {
    const text = dumpLines(200_000);
    for (const [input, chunker] of [
      [data, new FastCdc(params)],
      [text, new FastCdc(params)],
      [data, new FastCdc({ minSize: 512 * 1024, avgSize: 1024 * 1024, maxSize: 8 * 1024 * 1024, seed: 'd'.repeat(64) })],
    ] as const) {
      const expected = referenceLengths(input, chunker);
      expect(expected.length).toBeGreaterThan(3);
      expect(lengths(await chunks(input, chunker, 1_000_003))).toEqual(expected);
    }
  });

  it('cuts the same input at the same places, and another seed cuts elsewhere', async () => {
    const a = await chunks(data, new FastCdc(params));
    const b = await chunks(data, new FastCdc(params));
    const c = await chunks(data, new FastCdc({ ...params, seed: 'b'.repeat(64) }));
    expect(lengths(a)).toEqual(lengths(b));
    expect(lengths(a)).not.toEqual(lengths(c));
    expect(Buffer.concat(a).equals(data)).toBe(true);
  });

  it('keeps every chunk within [min, max] except the last, averaging near the target', async () => {
    const cs = await chunks(data, new FastCdc(params));
    for (const c of cs.slice(0, -1)) {
      expect(c.length).toBeGreaterThanOrEqual(params.minSize);
      expect(c.length).toBeLessThanOrEqual(params.maxSize);
    }
    const mean = data.length / cs.length;
    expect(mean).toBeGreaterThan(params.avgSize * 0.5);
    expect(mean).toBeLessThan(params.avgSize * 2);
  });

  it.each([1, 4096, 100_000, 1024 * 1024 + 7])('gives the same chunks whatever the read size (%i bytes)', async (pieceSize) => {
    const whole = await chunks(data, new FastCdc(params));
    // Both the pieces the source delivers and the size of the chunker's reads vary.
    const split = await chunks(data, new FastCdc(params), pieceSize === 1 ? 65_537 : pieceSize, pieceSize === 1 ? 70_001 : 300_007);
    expect(lengths(split)).toEqual(lengths(whole));
  });

  it('cuts where the reference cuts when reads end inside chunks, and when one ends right on a cut', async () => {
    const text = dumpLines(60_000);
    const chunker = new FastCdc(params);
    const expected = referenceLengths(text, chunker);
    // Reads of 20 011 bytes: a chunk (16 KiB at least, 64 KiB on average) spans several, each carrying the tail on.
    expect(lengths(await chunks(text, chunker, 4096, 20_011))).toEqual(expected);
    // The first read ends on the first cut: the search that carried it on found no cut before its last byte, and
    // none after, where the next search goes on.
    expect(lengths(await chunks(text, chunker, 4096, expected[0]))).toEqual(expected);
  });

  it('reads on after a short read that is not the end, and cuts content smaller than a read from one buffer', async () => {
    const chunker = new FastCdc(params);
    // A reader like a file growing while read: each read answers at most `most` bytes of what is there.
    const reader = (content: Buffer, most: number) => {
      let at = 0;
      const calls: number[] = [];
      const read: ReadInto = async (buf, offset, length) => {
        const n = Math.min(length, most, content.length - at);
        content.copy(buf, offset, at, at + n);
        at += n;
        calls.push(n);
        return n;
      };
      return { read, calls };
    };
    const cut = async (read: ReadInto) => {
      const batches: Buffer[][] = [];
      for await (const batch of chunkContent(read, chunker, 300_007)) {
        batches.push(batch.chunks.map((c) => Buffer.from(c.data)));
        batch.release();
      }
      return batches;
    };
    const short = reader(data, 100_000);
    expect(lengths((await cut(short.read)).flat())).toEqual(referenceLengths(data, chunker));
    expect(short.calls.at(-1)).toBe(0);
    const small = data.subarray(0, 200_000);
    const once = reader(small, Infinity);
    const batches = await cut(once.read);
    // One read of the content, one that finds its end, and its chunks in one batch.
    expect(once.calls).toEqual([200_000, 0]);
    expect(batches).toHaveLength(1);
    expect(lengths(batches[0]!)).toEqual(referenceLengths(small, chunker));
  });

  it('fails with a read that fails after a short one, and closes the source once', async () => {
    let calls = 0;
    let closed = 0;
    const read: ReadInto = Object.assign(
      async (buf: Buffer, offset: number) => {
        if (++calls > 1) throw new Error('EIO');
        data.copy(buf, offset, 0, 1000);
        return 1000;
      },
      { close: async () => void closed++ },
    );
    const batches = [];
    await expect(
      (async () => {
        for await (const batch of chunkContent(read, new FastCdc(params))) batches.push(batch);
      })(),
    ).rejects.toThrow('EIO');
    expect([calls, closed, batches.length]).toEqual([2, 1, 0]);
  });

  it('resynchronizes after an insert near the start of a 32 MiB file', async () => {
    const big = randomBytes(32 * 1024 * 1024);
    const chunker = new FastCdc({ minSize: 512 * 1024, avgSize: 1024 * 1024, maxSize: 8 * 1024 * 1024, seed: 'c'.repeat(64) });
    const edited = Buffer.concat([big.subarray(0, 1000), Buffer.from('inserted bytes'), big.subarray(1000)]);
    const before = (await chunks(big, chunker)).map((c) => c.toString('base64'));
    const after = (await chunks(edited, chunker)).map((c) => c.toString('base64'));
    const shared = after.filter((c) => before.includes(c)).length;
    expect(before.length).toBeGreaterThan(10);
    // Only the chunk holding the insert (and at most one after it) may differ.
    expect(shared).toBeGreaterThanOrEqual(after.length - 2);
  });

  it('cuts long runs of zeros at maxSize, so a hole dedupes to one blob', async () => {
    const zeros = Buffer.alloc(3 * params.maxSize + 10);
    const cs = await chunks(zeros, new FastCdc(params));
    expect(lengths(cs)).toEqual([params.maxSize, params.maxSize, params.maxSize, 10]);
  });

  it('rejects sizes out of order', () => {
    expect(() => new FastCdc({ ...params, minSize: params.avgSize * 2 })).toThrow(RangeError);
  });
});
