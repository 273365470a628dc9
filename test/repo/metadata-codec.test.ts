import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/core/errors.js';
import { IndexFileEncoder } from '../../src/repo/index-file-encoder.js';
import { decodeMetadata, encodeMetadata } from '../../src/repo/metadata-codec.js';
import { PACK_MAGIC, PackBuilder, parsePackHeader } from '../../src/repo/pack.js';

const entries = Array.from({ length: 500 }, (_, i) => ({ type: 'data', id: i.toString(16).padStart(64, '0'), offset: i * 100, length: 100, rawLength: 300, compression: 1 }));

describe('metadata (index files and pack headers)', () => {
  it('is stored gzipped, well under its JSON size, and reads back', () => {
    const value = { version: 1, packs: [{ id: 'a'.repeat(64), size: 50_000, blobs: entries }] };
    const stored = encodeMetadata(value, true);
    expect(stored.length).toBeLessThan(Buffer.byteLength(JSON.stringify(value)) / 2);
    expect(decodeMetadata(stored, 'test')).toEqual(value);
    expect(encodeMetadata(value, false).toString()).toBe(JSON.stringify(value));
  });

  it('encodes an index file pack by pack as encodeMetadata does whole, gzipped or not', async () => {
    const packs = [0, 1, 2].map((p) => ({ id: String(p).repeat(64), size: 1000 + p, blobs: entries.slice(p * 100, p * 100 + 100) }));
    for (const gzip of [true, false]) {
      const encoder = new IndexFileEncoder(gzip);
      for (const p of packs) encoder.add({ id: p.id, size: p.size, blobs: p.blobs.length }, JSON.stringify(p.blobs));
      expect(encoder.named).toEqual({ packs: 3, blobs: 300, storedBytes: 3003 });
      const stored = await encoder.finish();
      expect(decodeMetadata(stored, 'test')).toEqual({ version: 1, packs });
      if (!gzip) expect(stored.equals(encodeMetadata({ version: 1, packs }, false))).toBe(true);
    }
  });

  it('still reads the plain JSON written by earlier versions', () => {
    const value = { version: 1, blobs: entries };
    expect(decodeMetadata(Buffer.from(JSON.stringify(value)), 'test')).toEqual(value);
    // A pack whose header is plain JSON, as bkdr 0.1 wrote it.
    const header = Buffer.from(JSON.stringify({ version: 1, blobs: [{ type: 'data', id: 'b'.repeat(64), offset: 0, length: 3, rawLength: 3, compression: 0 }] }));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const pack = Buffer.concat([Buffer.from('abc'), header, length, PACK_MAGIC]);
    expect(parsePackHeader(pack, pack.length, (h) => h, 'old')[0]).toMatchObject({ id: 'b'.repeat(64), length: 3 });
  });

  it('reports damaged metadata as damage to the repository', () => {
    const stored = encodeMetadata({ version: 1, blobs: entries }, true);
    stored[stored.length >> 1]! ^= 0xff;
    expect(() => decodeMetadata(stored, 'index file abc')).toThrow(IntegrityError);
    expect(() => decodeMetadata(Buffer.from('{"version": 1, "blo'), 'index file abc')).toThrow(/index file abc is damaged/);
  });

  it('round-trips a pack built now', async () => {
    const builder = new PackBuilder(16);
    builder.add({ type: 'data', id: 'c'.repeat(64), record: Buffer.from('record bytes'), rawLength: 12, compression: 0 });
    const { bytes } = await builder.finish((h) => h, true);
    expect(parsePackHeader(bytes, bytes.length, (h) => h, 'new')).toEqual([{ type: 'data', id: 'c'.repeat(64), offset: 0, length: 12, rawLength: 12, compression: 0 }]);
  });
});
