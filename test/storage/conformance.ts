import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, readAll, type StorageAdapter } from '../../src/storage/adapter.js';

export interface ConformanceTarget {
  /** A fresh, empty destination (a new prefix or directory for each call). */
  open(): Promise<StorageAdapter>;
  /** Optional: stops the server mid-upload and restarts it, for the fault case. */
  interrupt?: () => Promise<void>;
}

const keysOf = async (a: StorageAdapter, prefix: string) => {
  const keys: string[] = [];
  for await (const o of a.list(prefix)) keys.push(o.key);
  return keys.sort();
};

/**
 * The behaviour every destination adapter must have (like restic's backend test
 * suite): run against each adapter with a real server on loopback.
 */
export function describeConformance(name: string, target: () => ConformanceTarget, opts: { manyKeys?: number } = {}): void {
  describe(`${name} adapter conformance`, () => {
    let t: ConformanceTarget;
    let a: StorageAdapter;
    beforeAll(async () => {
      t = target();
      a = await t.open();
    });
    afterAll(async () => {
      await a?.close?.();
    });

    it('puts and gets a buffer, and reads ranges of it', async () => {
      const body = randomBytes(100_000);
      await a.put('data/ab/obj', body);
      expect((await readAll(await a.get('data/ab/obj'))).equals(body)).toBe(true);
      expect((await readAll(await a.get('data/ab/obj', { offset: 1000, length: 5000 }))).equals(body.subarray(1000, 6000))).toBe(true);
      expect((await readAll(await a.get('data/ab/obj', { offset: 99_999, length: 1 }))).equals(body.subarray(99_999))).toBe(true);
      expect(await a.stat('data/ab/obj')).toMatchObject({ key: 'data/ab/obj', size: 100_000 });
    });

    it('stores a streamed body byte for byte (no transfer framing inside the object)', async () => {
      const body = randomBytes(12 * 1024 * 1024);
      await a.put('stream/obj', Readable.from([body.subarray(0, 5_000_000), body.subarray(5_000_000)]));
      expect((await a.stat('stream/obj'))?.size).toBe(body.length);
      const back = await readAll(await a.get('stream/obj'));
      expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    });

    it('stores a large object (multipart where the store has it)', async () => {
      const body = randomBytes(40 * 1024 * 1024);
      await a.put('large/obj', body);
      expect((await a.stat('large/obj'))?.size).toBe(body.length);
      expect((await readAll(await a.get('large/obj', { offset: 20 * 1024 * 1024 - 10, length: 20 }))).equals(body.subarray(20 * 1024 * 1024 - 10, 20 * 1024 * 1024 + 10))).toBe(true);
    });

    it('overwrites an object whole', async () => {
      await a.put('config', Buffer.from('first version, longer'));
      await a.put('config', Buffer.from('second'));
      expect((await readAll(await a.get('config'))).toString()).toBe('second');
    });

    it('reports a missing object: get throws ObjectNotFoundError, stat is undefined, delete is fine', async () => {
      await expect(a.get('nothing/here')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(a.get('nothing/here', { offset: 0, length: 10 })).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await a.stat('nothing/here')).toBeUndefined();
      await a.delete('nothing/here');
    });

    it('deletes', async () => {
      await a.put('gone/soon', Buffer.from('x'));
      await a.delete('gone/soon');
      expect(await a.stat('gone/soon')).toBeUndefined();
      expect(await keysOf(a, 'gone/')).toEqual([]);
    });

    it(`lists by prefix, across pages (${opts.manyKeys ?? 1100} keys)`, async () => {
      const n = opts.manyKeys ?? 1100;
      const keys = Array.from({ length: n }, (_, i) => `many/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => a.put(k, Buffer.from(k))));
      await a.put('many-other/x', Buffer.from('x'));
      expect(await keysOf(a, 'many/')).toEqual(keys);
      expect(await keysOf(a, 'many/0000')).toEqual(keys.slice(0, 10));
    });

    it('takes concurrent writes of different objects', async () => {
      const bodies = Array.from({ length: 16 }, () => randomBytes(256 * 1024));
      await Promise.all(bodies.map((b, i) => a.put(`concurrent/${i}`, b)));
      for (const [i, b] of bodies.entries()) expect((await readAll(await a.get(`concurrent/${i}`))).equals(b)).toBe(true);
    });
  });
}
