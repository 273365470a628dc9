import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobIndex, type BlobLocation } from '../../src/repo/blob-index.js';

const idOf = (n: number) => createHash('sha256').update(String(n)).digest('hex');

describe('BlobIndex', () => {
  it('finds every one of 50 000 blobs where it was added, and nothing else', () => {
    const index = new BlobIndex();
    const locations: BlobLocation[] = [];
    for (let i = 0; i < 50_000; i++) {
      const location: BlobLocation = { id: idOf(i), packId: idOf(-(i % 97)), type: i % 10 === 0 ? 'tree' : 'data', offset: i * 1000, length: 900 + (i % 50), rawLength: 4_000_000 + i };
      locations.push(location);
      index.add(location);
    }
    expect(index.size).toBe(50_000);
    for (const location of locations) expect(index.get(location.id)).toEqual(location);
    for (let i = 50_000; i < 51_000; i++) expect(index.has(idOf(i))).toBe(false);
    expect([...index.values()]).toEqual(locations);
    // By entry number, as a restore plan holds its blobs: the same answers, and pack numbers shared within a pack only.
    const packNumbers = new Map<string, number>();
    for (const location of locations) {
      const entry = index.entryOf(location.id);
      expect(index.locationAt(entry)).toEqual(location);
      expect([index.offsetAt(entry), index.rawLengthAt(entry)]).toEqual([location.offset, location.rawLength]);
      const packNo = packNumbers.get(location.packId) ?? index.packNumberAt(entry);
      packNumbers.set(location.packId, packNo);
      expect(index.packNumberAt(entry)).toBe(packNo);
    }
    expect(new Set(packNumbers.values()).size).toBe(97);
    expect(index.entryOf(idOf(50_001))).toBe(-1);
  });

  it('keeps the first location of a blob added twice, and answers no for malformed ids', () => {
    const index = new BlobIndex();
    const first: BlobLocation = { id: idOf(1), packId: idOf(2), type: 'data', offset: 0, length: 10, rawLength: 10 };
    index.add(first);
    index.add({ ...first, packId: idOf(3), offset: 99 });
    expect(index.get(first.id)).toEqual(first);
    expect(index.size).toBe(1);
    expect(index.has('abc')).toBe(false);
    expect(index.has('z'.repeat(64))).toBe(false);
    expect(() => index.add({ ...first, id: 'not-hex' })).toThrow(/not a blob id/);
  });
});
