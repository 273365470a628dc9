import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CompressionTag, compressBlob, decompressBlob } from '../../src/repo/compression.js';

const fixtureText = () => Buffer.from(Array.from({ length: 3000 }, (_, i) => `line ${i % 50} of the fixture\n`).join(''));

describe('blob compression', () => {
  it('reads LZ4 blobs written by earlier versions (lz4-napi), so existing repositories stay readable', async () => {
    const stored = readFileSync(join(import.meta.dirname, '../fixtures/lz4-napi-block.bin'));
    expect((await decompressBlob(CompressionTag.lz4, stored)).equals(fixtureText())).toBe(true);
  });

  it('inflates gzip and brotli whatever plaintext length the index claims (exact, tiny, too large)', async () => {
    const data = Buffer.concat([fixtureText(), fixtureText()]);
    for (const algorithm of ['gzip', 'brotli'] as const) {
      const { tag, payload } = await compressBlob(data, { algorithm });
      for (const rawLength of [data.length, undefined, 0, 1, 63, 100, data.length - 1, 10 * data.length]) {
        expect((await decompressBlob(tag, payload, rawLength)).equals(data), `${algorithm} ${rawLength}`).toBe(true);
      }
    }
  });

  it('round-trips every algorithm, on the pool and on the calling thread', async () => {
    for (const algorithm of ['lz4', 'gzip', 'brotli'] as const) {
      for (const data of [fixtureText().subarray(0, 10_000), Buffer.concat([fixtureText(), fixtureText(), fixtureText()])]) {
        const { tag, payload } = await compressBlob(data, { algorithm });
        expect(tag, algorithm).toBe(CompressionTag[algorithm]);
        expect(payload.length).toBeLessThan(data.length);
        expect((await decompressBlob(tag, payload)).equals(data), algorithm).toBe(true);
      }
    }
  });

  it('stores incompressible data raw', async () => {
    const data = randomBytes(256 * 1024);
    const { tag, payload } = await compressBlob(data, { algorithm: 'lz4' });
    expect(tag).toBe(CompressionTag.none);
    expect(payload).toBe(data);
  });

  it('rejects corrupt LZ4 data with an error instead of returning garbage', async () => {
    const { payload } = await compressBlob(Buffer.concat([fixtureText(), fixtureText()]), { algorithm: 'lz4' });
    const damaged = Buffer.from(payload);
    damaged.writeUInt32LE(damaged.readUInt32LE(0) + 1, 0);
    await expect(decompressBlob(CompressionTag.lz4, damaged)).rejects.toThrow(/LZ4 data is corrupt/);
    await expect(decompressBlob(CompressionTag.lz4, damaged.subarray(0, 100))).rejects.toThrow(/LZ4 data is corrupt/);
  });
});
