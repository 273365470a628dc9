import { mkdir, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignedBuffer } from '../../src/core/aligned-buffer.js';
import { ObjectNotFoundError, readAll, type StorageAdapter } from '../../src/storage/adapter.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';

describe('local adapter', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let a: StorageAdapter;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-local-');
    a = createLocalAdapter({ name: 'disk', path: join(tmp.path, 'store') });
  });
  afterEach(async () => {
    await a.close?.();
    await tmp.cleanup();
  });

  it('puts and gets buffers and streams, whole and by range', async () => {
    await a.put('data/ab/abc', Buffer.from('0123456789'));
    await a.put('index/x', Readable.from([Buffer.from('str'), Buffer.from('eamed')]));
    expect((await readAll(await a.get('data/ab/abc'))).toString()).toBe('0123456789');
    expect((await readAll(await a.get('data/ab/abc', { offset: 3, length: 4 }))).toString()).toBe('3456');
    expect((await readAll(await a.get('index/x'))).toString()).toBe('streamed');
    expect(await a.stat('data/ab/abc')).toMatchObject({ key: 'data/ab/abc', size: 10 });
  });

  it('hands a range it read whole to readAll as it is, and streams it to a reader', async () => {
    await a.put('data/ab/abc', Buffer.from('0123456789'));
    const into = Buffer.alloc(4);
    const stream = await a.get('data/ab/abc', { offset: 3, length: 4, into });
    const bytes = await readAll(stream);
    expect(bytes.toString()).toBe('3456');
    expect(bytes.buffer).toBe(into.buffer);
    // Taken without iterating the stream: a reader of the stream still gets the bytes.
    expect(stream.readableDidRead).toBe(false);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('3456');
  });

  it('reads a whole object at its size, in one Buffer, and an empty one as empty; a directory at a key fails', async () => {
    const large = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    await a.put('index/large', large);
    await a.put('locks/empty', Buffer.alloc(0));
    await a.put('snapshots/small', Buffer.from('{"a":1}'));
    for (const [key, bytes] of [
      ['index/large', large],
      ['locks/empty', Buffer.alloc(0)],
      ['snapshots/small', Buffer.from('{"a":1}')],
    ] as const) {
      const stream = await a.get(key);
      const got = await readAll(stream);
      // Read whole: readAll took the bytes without iterating a stream.
      expect(stream.readableDidRead, key).toBe(false);
      expect(got.equals(bytes), key).toBe(true);
      expect(got.buffer.byteLength, key).toBeLessThanOrEqual(Math.max(bytes.length, 8192));
    }
    const open = (await readdir('/proc/self/fd')).length;
    for (let i = 0; i < 5; i++) await readAll(await a.get('snapshots/small'));
    expect((await readdir('/proc/self/fd')).length).toBe(open);
    await mkdir(join(tmp.path, 'store', 'snapshots', 'dir'));
    await expect(a.get('snapshots/dir').then(readAll)).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('keeps a pack open between range reads, and lets it go when it is deleted or the adapter closes', async () => {
    const openTo = async (file: string) => {
      let n = 0;
      for (const fd of await readdir('/proc/self/fd')) if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file) n++;
      return n;
    };
    await a.put('data/ab/pack1', Buffer.from('0123456789'));
    await a.put('locks/l', Buffer.from('first'));
    const pack = join(tmp.path, 'store/data/ab/pack1');
    for (let i = 0; i < 5; i++) expect((await readAll(await a.get('data/ab/pack1', { offset: i, length: 3 }))).toString()).toBe('0123456789'.slice(i, i + 3));
    expect(await openTo(pack)).toBe(1);
    // A mutable object is read afresh each time: a rewrite is seen at once.
    expect((await readAll(await a.get('locks/l', { offset: 0, length: 5 }))).toString()).toBe('first');
    await a.put('locks/l', Buffer.from('again'));
    expect((await readAll(await a.get('locks/l', { offset: 0, length: 5 }))).toString()).toBe('again');
    expect(await openTo(join(tmp.path, 'store/locks/l'))).toBe(0);
    await a.delete('data/ab/pack1');
    expect(await openTo(pack)).toBe(0);
    await expect(a.get('data/ab/pack1', { offset: 0, length: 3 })).rejects.toThrow(ObjectNotFoundError);
    // An empty range of an object read afresh: nothing read, nothing left open.
    expect((await readAll(await a.get('locks/l', { offset: 2, length: 0 }))).length).toBe(0);
    expect(await openTo(join(tmp.path, 'store/locks/l'))).toBe(0);
    await a.put('data/ab/pack2', Buffer.from('abcdef'));
    await readAll(await a.get('data/ab/pack2', { offset: 1, length: 2 }));
    await a.close!();
    expect(await openTo(join(tmp.path, 'store/data/ab/pack2'))).toBe(0);
  });

  it('stores large objects exactly, from aligned memory (O_DIRECT) or not, with or without a partial last block', async () => {
    const sizes = [4 * 1024 * 1024, 3 * 1024 * 1024 + 777, 1024 * 1024 + 1];
    for (const [i, size] of sizes.entries()) {
      const aligned = alignedBuffer(size + 1);
      for (let k = 0; k < aligned.length; k++) aligned[k] = (k * 31 + i) & 0xff;
      // The aligned buffer itself, and a view one byte in (unaligned: written buffered).
      for (const [name, body] of [
        ['aligned', aligned.subarray(0, size)],
        ['unaligned', aligned.subarray(1)],
      ] as const) {
        await a.put(`data/${name}/${i}`, body);
        expect((await readAll(await a.get(`data/${name}/${i}`))).equals(body)).toBe(true);
      }
    }
  });

  it('overwrites atomically and leaves no temp file behind', async () => {
    await a.put('config', Buffer.from('one'));
    await a.put('config', Buffer.from('two'));
    expect((await readAll(await a.get('config'))).toString()).toBe('two');
    expect((await readdir(join(tmp.path, 'store'))).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('a failed streamed put leaves nothing visible', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(a.put('data/zz/zzz', failing)).rejects.toThrow(/connection reset/);
    expect(await a.stat('data/zz/zzz')).toBeUndefined();
    const listed = [];
    for await (const o of a.list('data/')) listed.push(o.key);
    expect(listed).toEqual([]);
  });

  it('lists by prefix, recursively', async () => {
    for (const k of ['data/00/a', 'data/01/b', 'index/c', 'snapshots/d', 'snapshots/de']) await a.put(k, Buffer.from(k));
    const keys = async (prefix: string) => {
      const out: string[] = [];
      for await (const o of a.list(prefix)) out.push(o.key);
      return out.sort();
    };
    expect(await keys('data/')).toEqual(['data/00/a', 'data/01/b']);
    expect(await keys('snapshots/d')).toEqual(['snapshots/d', 'snapshots/de']);
    expect(await keys('nothing/')).toEqual([]);
  });

  it('reports a missing key as ObjectNotFoundError, and deleting it is fine', async () => {
    await expect(a.get('missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(a.get('missing', { offset: 0, length: 1 })).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await a.stat('missing')).toBeUndefined();
    await a.delete('missing');
  });

  it('refuses keys that would escape the store', async () => {
    await expect(a.put('../outside', Buffer.from('x'))).rejects.toThrow(/invalid key/);
  });
});
