import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/core/native-addon.js';
import {
  decodeRecord,
  decodeRecords,
  encodeRecord,
  encodeRecords,
  readAndSealSmallFiles,
  readSmallFiles,
  RecordDecodeError,
  recordsBound,
  sealedReadsBound,
  smallReadsBound,
} from '../../src/repo/blob-codec.js';
import { CompressionTag, compressBlob, decompressBlob } from '../../src/repo/compression.js';
import { seal, unseal } from '../../src/repo/crypto.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const text = Buffer.from('INSERT INTO orders VALUES (1, 42);\n'.repeat(4000));
const noise = randomBytes(100_000);
const key = randomBytes(32);

describe('blob records (native)', () => {
  it.each([
    ['lz4, encrypted', text, key, 'lz4'],
    ['lz4, plain', text, undefined, 'lz4'],
    ['incompressible, encrypted', noise, key, 'lz4'],
    ['gzip, encrypted', text, key, 'gzip'],
    ['none, encrypted', text, key, 'none'],
    ['small, encrypted', Buffer.from('tiny'), key, 'lz4'],
    ['empty, encrypted', Buffer.alloc(0), key, 'lz4'],
  ] as const)('round-trips %s and reports the data hash', async (_name, data, k, algorithm) => {
    const { record, tag } = await encodeRecord(data, k, { algorithm });
    if (data === noise || algorithm === 'none' || data.length < 64) expect(tag).toBe(CompressionTag.none);
    else expect(tag).toBe(CompressionTag[algorithm]);
    const decoded = await decodeRecord(record, k);
    expect(decoded.data.equals(data)).toBe(true);
    expect(decoded.id).toBe(sha256(data));
  });

  it('writes the format earlier versions wrote, and reads theirs', async () => {
    // Made the old way: zlib/lz4 in JavaScript, sealed by crypto.ts.
    const { tag, payload } = await compressBlob(text, { algorithm: 'lz4' });
    const old = seal(key, [Buffer.from([tag]), payload]);
    expect((await decodeRecord(old, key)).data.equals(text)).toBe(true);
    // Made natively, opened the old way.
    const { record } = await encodeRecord(text, key, { algorithm: 'lz4' });
    const plain = unseal(key, record);
    expect(plain[0]).toBe(CompressionTag.lz4);
    expect((await decompressBlob(plain[0]!, plain.subarray(1))).equals(text)).toBe(true);
  });

  it.each([
    ['small, inline', text.subarray(0, 20_000), 1],
    ['large, on the pool', Buffer.concat([text, text, text]), 1],
    ['at the level asked for', text, 9],
    ['at zlib default level', text, undefined],
  ] as const)('makes gzip records natively (%s) that Node zlib reads as one plain member', async (_name, data, level) => {
    const { record, tag } = await encodeRecord(data, key, { algorithm: 'gzip', ...(level !== undefined ? { level } : {}) });
    expect(tag).toBe(CompressionTag.gzip);
    const plain = unseal(key, record);
    expect(plain[0]).toBe(CompressionTag.gzip);
    const member = plain.subarray(1);
    // What compressBlob makes at that level, byte for byte: zlib's gzip with its default window and memory.
    expect(member.equals(gzipSync(data, { level: level ?? 6 }))).toBe(true);
    expect(gunzipSync(member).equals(data)).toBe(true);
    expect((await decodeRecord(record, key)).data.equals(data)).toBe(true);
  });

  it('stores raw what gzip does not shrink, and reads gzip records made by Node zlib', async () => {
    const { tag } = await encodeRecord(noise, key, { algorithm: 'gzip', level: 1 });
    expect(tag).toBe(CompressionTag.none);
    const { tag: oldTag, payload } = await compressBlob(text, { algorithm: 'gzip', level: 1 });
    expect((await decodeRecord(seal(key, [Buffer.from([oldTag]), payload]), key)).data.equals(text)).toBe(true);
  });

  it('refuses a gzip level zlib has not, rather than storing raw', async () => {
    await expect(encodeRecord(text, key, { algorithm: 'gzip', level: 10 })).rejects.toThrow(/gzip compression cannot start/);
    await expect(encodeRecords([text], key, { algorithm: 'gzip', level: 11 })).rejects.toThrow(/gzip compression cannot start/);
  });

  it('seals many gzip blobs at once into records that open like single ones', async () => {
    const blobs = [text, noise, Buffer.from('x'), Buffer.alloc(0), text.subarray(7, 5000)];
    const into = Buffer.alloc(recordsBound(blobs));
    const records = await encodeRecords(blobs, key, { algorithm: 'gzip', level: 1 }, into);
    expect(records.map((r) => r.tag)).toEqual([CompressionTag.gzip, CompressionTag.none, CompressionTag.none, CompressionTag.none, CompressionTag.gzip]);
    for (const [i, { record }] of records.entries()) {
      expect(record.buffer).toBe(into.buffer);
      expect((await decodeRecord(record, key)).data.equals(blobs[i]!)).toBe(true);
    }
  });

  it('never reuses a nonce', async () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 2000; i++) nonces.add((await encodeRecord(text.subarray(0, 100), key, { algorithm: 'lz4' })).record.subarray(0, 12).toString('hex'));
    expect(nonces.size).toBe(2000);
  });

  it('tells a damaged or foreign record from a good one', async () => {
    const { record } = await encodeRecord(text, key, { algorithm: 'lz4' });
    const flipped = Buffer.from(record);
    flipped[100]! ^= 1;
    await expect(decodeRecord(flipped, key)).rejects.toMatchObject({ reason: 'authentication' });
    await expect(decodeRecord(record, randomBytes(32))).rejects.toBeInstanceOf(RecordDecodeError);
    const plain = (await encodeRecord(text, undefined, { algorithm: 'lz4' })).record;
    const broken = Buffer.from(plain);
    broken.fill(0xff, 10, 60);
    await expect(decodeRecord(broken, undefined)).rejects.toMatchObject({ reason: 'decompression' });
  });

  it('seals many blobs at once into records that open like single ones', async () => {
    const blobs = [text, noise, Buffer.from('x'), Buffer.alloc(0), text.subarray(7, 5000)];
    const records = await encodeRecords(blobs, key, { algorithm: 'lz4' });
    expect(records).toHaveLength(blobs.length);
    for (const [i, { record }] of records.entries()) expect((await decodeRecord(record, key)).data.equals(blobs[i]!)).toBe(true);
  });

  it('opens many records at once, telling each damaged one apart', async () => {
    const blobs = [text, noise, Buffer.from('x'), text.subarray(0, 3000)];
    const records = (await encodeRecords(blobs, key, { algorithm: 'lz4' })).map((r) => Buffer.from(r.record));
    records[1]![50]! ^= 1;
    const gzipped = (await encodeRecord(text, key, { algorithm: 'gzip' })).record;
    const opened = await decodeRecords([...records, gzipped], key);
    expect(opened[1]).toBeInstanceOf(RecordDecodeError);
    for (const i of [0, 2, 3]) expect(opened[i]).toEqual({ data: blobs[i], id: sha256(blobs[i]!) });
    expect(opened[4]).toEqual({ data: text, id: sha256(text) });
  });

  const encoded = (algorithm: 'lz4' | 'gzip') => async (data: Buffer) => (await encodeRecord(data, key, { algorithm })).record;
  /** Two gzip members back to back: zlib reads both; the addon inflates only a single member and leaves this to zlib. */
  const twoGzipMembers = (data: Buffer) => seal(key, Buffer.concat([Buffer.from([CompressionTag.gzip]), gzipSync(data.subarray(0, 100)), gzipSync(data.subarray(100))]));

  it.each([
    ['lz4', text, encoded('lz4'), true],
    ['raw', noise, encoded('lz4'), true],
    ['small lz4 (opened inline)', text.subarray(0, 5000), encoded('lz4'), true],
    ['gzip', text, encoded('gzip'), true],
    ['two-member gzip (decoded by zlib, not into the buffer)', text, twoGzipMembers, false],
  ] as const)('decodes a %s record into the buffer it is given when it can', async (_name, data, record, inPlace) => {
    const into = Buffer.alloc(data.length, 0xee);
    const decoded = await decodeRecord(await record(data), key, into);
    expect(decoded.data.equals(data)).toBe(true);
    expect(decoded.id).toBe(sha256(data));
    expect(decoded.data === into).toBe(inPlace);
  });

  it('opens a batch of lz4 and gzip records into one buffer, past gzip it leaves to zlib', async () => {
    const blobs = [text, text.subarray(0, 3000), text.subarray(0, 5000), noise];
    const records = [
      (await encodeRecord(blobs[0]!, key, { algorithm: 'gzip' })).record,
      (await encodeRecord(blobs[1]!, key, { algorithm: 'lz4' })).record,
      // The addon starts inflating it into the buffer, stops, and leaves it to zlib.
      twoGzipMembers(blobs[2]!),
      (await encodeRecord(blobs[3]!, key, { algorithm: 'gzip' })).record,
    ];
    const into = Buffer.alloc(
      blobs.reduce((sum, b) => sum + b.length, 0),
      0xee,
    );
    const opened = await decodeRecords(records, key, into);
    for (const [i, blob] of blobs.entries()) {
      const one = opened[i] as { data: Buffer; id: string };
      expect(one).toEqual({ data: blob, id: sha256(blob) });
      expect(one.data.buffer === into.buffer).toBe(i !== 2);
    }
  });

  it('fails a record that decodes to another size than the buffer it is given, as damage', async () => {
    const { record } = await encodeRecord(text, key, { algorithm: 'lz4' });
    for (const size of [text.length - 1, text.length + 1]) {
      await expect(decodeRecord(record, key, Buffer.alloc(size))).rejects.toMatchObject({ reason: 'decompression' });
    }
    const { record: raw } = await encodeRecord(noise, key, { algorithm: 'lz4' });
    await expect(decodeRecord(raw, key, Buffer.alloc(noise.length - 1))).rejects.toBeInstanceOf(RecordDecodeError);
  });

  it('opens many records one after the other into one buffer, and tells one that does not fit', async () => {
    const blobs = [text, noise, Buffer.from('x'), Buffer.alloc(0), text.subarray(0, 3000)];
    const records = (await encodeRecords(blobs, key, { algorithm: 'lz4' })).map((r) => r.record);
    const total = blobs.reduce((n, b) => n + b.length, 0);
    const into = Buffer.alloc(total);
    const opened = await decodeRecords(records, key, into);
    let offset = 0;
    for (const [i, blob] of blobs.entries()) {
      const got = opened[i] as { data: Buffer; id: string };
      expect(got.id).toBe(sha256(blob));
      expect(got.data.equals(blob)).toBe(true);
      // In place, in order: the restore hands these out without a copy.
      expect(got.data.buffer).toBe(into.buffer);
      expect(got.data.byteOffset).toBe(into.byteOffset + offset);
      offset += blob.length;
    }
    // One byte short: every record up to the last still decodes, the last cannot.
    const short = await decodeRecords(records, key, Buffer.alloc(total - 1));
    expect(short.slice(0, 3).every((r) => !(r instanceof RecordDecodeError))).toBe(true);
    expect(short[4]).toBeInstanceOf(RecordDecodeError);
  });
});

describe('batch results (native)', () => {
  // The addon copies each batch's per-item doubles out of what its job allocated: a count that
  // disagreed read past the allocation (sealMany read 15 doubles per record of 3, and crashed
  // the backup when that ran off the heap's last page).
  const native = () =>
    loadNativeAddon<{
      sealMany(data: Buffer[], key: Buffer | null, compress: number, into: Buffer | null, level: number): Promise<[Buffer, Float64Array]>;
      openMany(records: Buffer[], key: Buffer | null, into: Buffer | null): Promise<[Buffer, Float64Array, Buffer]>;
      readSmall(
        paths: Buffer[],
        expectedSizes: number[],
        into: Buffer | null,
        seal: boolean,
        key: Buffer | null,
        compress: number,
        level: number,
        sealInto: Buffer | null,
      ): Promise<[Buffer, Float64Array, Buffer, Buffer?, Float64Array?]>;
    }>('bkdr_blob');
  const blobs = Array.from({ length: 64 }, (_, i) => Buffer.from(`blob ${i} `.repeat(50 + i)));

  it('hands back as many doubles per item as the op makes: 3 sealed, 5 opened, 10 read, 10 and 3 read and sealed', async () => {
    const [records, sealedMeta] = await native().sealMany(blobs, key, 1, null, 0);
    expect(sealedMeta.length).toBe(64 * 3);
    const each = blobs.map((_, i) => records.subarray(sealedMeta[i * 3]!, sealedMeta[i * 3]! + sealedMeta[i * 3 + 1]!));
    const [, openedMeta] = await native().openMany(each, key, null);
    expect(openedMeta.length).toBe(64 * 5);
    const dir = mkdtempSync(join(tmpdir(), 'bkdr-meta-'));
    try {
      const paths = blobs.map((b, i) => (writeFileSync(join(dir, `f${i}`), b), Buffer.from(join(dir, `f${i}`))));
      const sizes = blobs.map((b) => b.length);
      const [, readMeta] = await native().readSmall(paths, sizes, null, false, null, 0, 0, null);
      expect(readMeta.length).toBe(64 * 10);
      const [, readAgain, , , sealMeta] = await native().readSmall(paths, sizes, null, true, key, 1, 0, null);
      expect(readAgain.length).toBe(64 * 10);
      expect(sealMeta?.length).toBe(64 * 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('batches into given buffers', () => {
  // Made when the tests run, not when they are collected: a -t filter that skips them all runs no afterAll.
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkdr-into-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('seals many blobs into the buffer given, when it has room for them at their largest', async () => {
    const blobs = [text, noise, Buffer.from('x'), Buffer.alloc(0)];
    const into = Buffer.alloc(recordsBound(blobs));
    const records = await encodeRecords(blobs, key, { algorithm: 'lz4' }, into);
    for (const [i, { record }] of records.entries()) {
      expect(record.buffer).toBe(into.buffer);
      expect((await decodeRecord(record, key)).data.equals(blobs[i]!)).toBe(true);
    }
    // Too small: the records come in a buffer of their own, and are the same.
    const small = Buffer.alloc(16);
    const copied = await encodeRecords(blobs, key, { algorithm: 'lz4' }, small);
    for (const [i, { record }] of copied.entries()) {
      expect(record.buffer).not.toBe(small.buffer);
      expect((await decodeRecord(record, key)).data.equals(blobs[i]!)).toBe(true);
    }
  });

  it.each([
    ['lz4, encrypted, on the pool', text, key],
    ['incompressible, plain, on the pool', noise, undefined],
    ['small, encrypted, inline', Buffer.from('tiny'), key],
  ] as const)('seals one blob (%s) into the buffer given, when it has room for it', async (_name, data, k) => {
    const into = Buffer.alloc(recordsBound([data]));
    const { record } = await encodeRecord(data, k, { algorithm: 'lz4' }, into);
    expect(record.buffer).toBe(into.buffer);
    expect(record.byteOffset).toBe(into.byteOffset);
    expect((await decodeRecord(record, k)).data.equals(data)).toBe(true);
    const small = Buffer.alloc(8);
    const { record: own } = await encodeRecord(data, k, { algorithm: 'lz4' }, small);
    expect(own.buffer).not.toBe(small.buffer);
    expect((await decodeRecord(own, k)).data.equals(data)).toBe(true);
  });

  it('reads small files into the buffer given, when it has room for them and a byte each', async () => {
    const contents = [Buffer.from('alpha'), randomBytes(3000), Buffer.alloc(0)];
    const paths = contents.map((data, i) => {
      const path = join(dir, `f${i}`);
      writeFileSync(path, data);
      return Buffer.from(path);
    });
    const sizes = contents.map((c) => c.length);
    for (const into of [Buffer.alloc(smallReadsBound(sizes)), Buffer.alloc(smallReadsBound(sizes) - 1)]) {
      const reads = await readSmallFiles(paths, sizes, into);
      for (const [i, read] of reads.entries()) {
        if (!read.ok) throw new Error(`f${i} not read`);
        expect(read.data.equals(contents[i]!)).toBe(true);
        expect(read.id).toBe(sha256(contents[i]!));
        expect(read.data.buffer === into.buffer).toBe(into.length === smallReadsBound(sizes));
      }
    }
  });
});

describe('readSmallFiles', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkdr-small-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and hashes files, and reports missing, grown and changed ones', async () => {
    const a = join(dir, 'a');
    const grown = join(dir, 'grown');
    const changed = join(dir, 'changed');
    writeFileSync(a, 'alpha');
    writeFileSync(grown, 'short');
    writeFileSync(changed, 'before');
    const expected = [statSync(a).size, statSync(grown).size, statSync(changed).size, 10];
    appendFileSync(grown, ' and longer');
    writeFileSync(changed, 'after!'); // same size, new mtime
    const reads = await readSmallFiles(
      [a, grown, changed, join(dir, 'missing')].map((p) => Buffer.from(p)),
      expected,
    );
    expect(reads[0]).toMatchObject({ ok: true, id: sha256(Buffer.from('alpha')), size: 5n });
    expect(reads[0]!.ok && reads[0]!.data.toString()).toBe('alpha');
    expect(reads[1]).toEqual({ ok: false, grew: true });
    expect(reads[2]!.ok && reads[2]!.data.toString()).toBe('after!');
    expect(reads[2]!.ok && reads[2]!.mtimeNs).toBe(statSync(changed, { bigint: true }).mtimeNs);
    expect(reads[3]).toMatchObject({ ok: false, grew: false, error: { code: 'ENOENT' } });
  });

  it('seals each file read as encodeRecord would, with readAndSealSmallFiles, into the buffer given; none for a file empty, grown or missing', async () => {
    const files = { text: text.subarray(0, 20_000), noise: noise.subarray(0, 30_000), empty: Buffer.alloc(0), 'grown-sealed': Buffer.from('short') };
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    const paths = [...Object.keys(files), 'missing'].map((name) => Buffer.from(join(dir, name)));
    const sizes = [...Object.values(files).map((d) => d.length), 10];
    appendFileSync(join(dir, 'grown-sealed'), ' and longer');
    for (const sealing of [
      { key, compression: { algorithm: 'lz4' } as const },
      { key: undefined, compression: { algorithm: 'gzip', level: 1 } as const },
    ]) {
      const into = Buffer.alloc(smallReadsBound(sizes));
      const sealInto = Buffer.alloc(sealedReadsBound(sizes));
      const reads = await readAndSealSmallFiles(paths, sizes, sealing, into, sealInto);
      expect(reads.map((r) => r.ok)).toEqual([true, true, true, false, false]);
      expect(reads.map((r) => r.sealed !== undefined)).toEqual([true, true, false, false, false]);
      for (const [k, data] of [files.text, files.noise].entries()) {
        const { record, tag } = reads[k]!.sealed!;
        expect(record.buffer).toBe(sealInto.buffer);
        expect((await decodeRecord(record, sealing.key, undefined, data.length)).data.equals(data)).toBe(true);
        // The text compresses, the noise is kept raw.
        expect(tag).toBe(k === 0 ? (sealing.compression.algorithm === 'lz4' ? CompressionTag.lz4 : CompressionTag.gzip) : CompressionTag.none);
      }
    }
    // Compression the addon does not make: read, left unsealed for the caller.
    const brotli = await readAndSealSmallFiles(paths.slice(0, 1), sizes.slice(0, 1), { key, compression: { algorithm: 'brotli' } });
    expect(brotli[0]).toMatchObject({ ok: true, id: sha256(files.text) });
    expect(brotli[0]!.sealed).toBeUndefined();
  });
});
