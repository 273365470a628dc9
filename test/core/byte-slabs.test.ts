import { describe, expect, it } from 'vitest';
import { ByteSlabs } from '../../src/core/byte-slabs.js';

describe('ByteSlabs', () => {
  it('copies bytes side by side into shared slabs, apart from the Buffers they came from', () => {
    const slabs = new ByteSlabs();
    const sources = Array.from({ length: 1000 }, (_, i) => Buffer.from(`/target/directory-${i}`));
    const copies = sources.map((source) => slabs.copy(source));
    for (const source of sources) source.fill(0);
    expect(copies.map((c) => c.toString())).toEqual(Array.from({ length: 1000 }, (_, i) => `/target/directory-${i}`));
    // ~22 KiB of copies: one 64 KiB slab, none of Buffer's 8 KiB pools.
    expect(new Set(copies.map((c) => c.buffer)).size).toBe(1);
    expect(copies[0]!.buffer).not.toBe(sources[0]!.buffer);
  });

  it('gives a copy longer than a slab a slab of its own, and goes on filling slabs after it', () => {
    const slabs = new ByteSlabs();
    const small = slabs.copy(Buffer.from('a'));
    const long = slabs.copy(Buffer.alloc(100 * 1024, 7));
    const next = slabs.copy(Buffer.from('b'));
    expect(long.length).toBe(100 * 1024);
    expect(long.every((b) => b === 7)).toBe(true);
    expect(long.buffer).not.toBe(small.buffer);
    expect(next.buffer).not.toBe(long.buffer);
    expect([small.toString(), next.toString()]).toEqual(['a', 'b']);
    expect(slabs.copy(Buffer.alloc(0)).length).toBe(0);
  });
});
