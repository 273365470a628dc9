import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobIndex, type BlobLocation } from '../../src/repo/blob-index.js';
import { IndexFileEncoder } from '../../src/repo/index-file-encoder.js';
import { scanIndexFile } from '../../src/repo/index-file-scan.js';
import { decodeMetadata } from '../../src/repo/metadata-codec.js';
import { Repository } from '../../src/repo/repository.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';
import { gzipSync } from 'node:zlib';

const idOf = (n: number | string) => createHash('sha256').update(String(n)).digest('hex');

interface Entry {
  type: string;
  id: string;
  offset: number;
  length: number;
  rawLength: number;
  compression?: number;
}
interface Pack {
  id: string;
  size: number;
  blobs: Entry[];
}

/** Deterministic pseudo-random numbers, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function packsFor(seed: number): Pack[] {
  const next = random(seed);
  const packs: Pack[] = [];
  for (let p = 0; p < 1 + Math.floor(next() * 4); p++) {
    const blobs: Entry[] = [];
    for (let b = 0; b < Math.floor(next() * 30); b++) {
      // Some ids repeat, within the file and across packs: the first location must win.
      const entry: Entry = {
        type: next() < 0.2 ? 'tree' : 'data',
        id: idOf(`${seed}:${Math.floor(next() * 60)}`),
        offset: Math.floor(next() * 2 ** 32),
        length: Math.floor(next() * 1e6),
        rawLength: Math.floor(next() * 1e7),
      };
      if (next() < 0.8) entry.compression = Math.floor(next() * 3);
      blobs.push(entry);
    }
    packs.push({ id: idOf(`pack ${seed}:${Math.floor(next() * 3)}`), size: Math.floor(next() * 2 ** 40), blobs });
  }
  return packs;
}

/** The index as JSON.parse and add() build it, blob by blob: the oracle. */
function indexByAdd(packs: Pack[], into = new BlobIndex()): BlobIndex {
  for (const pack of packs) for (const e of pack.blobs) into.add({ id: e.id, packId: pack.id, type: e.type as BlobLocation['type'], offset: e.offset, length: e.length, rawLength: e.rawLength });
  return into;
}

function indexByScan(json: Buffer, into = new BlobIndex()): BlobIndex {
  const scanned = scanIndexFile(json);
  expect(scanned).toBeDefined();
  into.addScanned(scanned!);
  return into;
}

const fileJson = (packs: Pack[]) => Buffer.from(JSON.stringify({ version: 1, packs }));

describe('scanIndexFile', () => {
  it('builds the same index as JSON.parse and add() for 200 random index files', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const packs = packsFor(seed);
      expect([...indexByScan(fileJson(packs)).values()], `seed ${seed}`).toEqual([...indexByAdd(packs).values()]);
    }
  });

  it('reads the index files a repository writes (so a new header field cannot send every file to JSON.parse unnoticed)', async () => {
    const tmp = await makeTempDir('bkdr-scan-');
    try {
      const path = join(tmp.path, 'repo');
      const repo = await Repository.create(createLocalAdapter({ name: 'scan', path }), { password: null, packSize: 64 * 1024 });
      for (let i = 0; i < 40; i++) {
        const data = i % 2 ? randomBytes(5000) : Buffer.from(`compressible ${i} `.repeat(500));
        await repo.saveBlob('data', createHash('sha256').update(data).digest('hex'), data);
      }
      await repo.saveTree([]);
      await repo.flush();
      const [name] = await readdir(join(path, 'index'));
      const stored = await readFile(join(path, 'index', name!));
      const scanned = indexByScan(stored);
      expect(scanned.size).toBe(41);
      expect([...scanned.values()]).toEqual([...indexByAdd((decodeMetadata(stored, 'test') as { packs: Pack[] }).packs).values()]);
    } finally {
      await tmp.cleanup();
    }
  });

  it('adds to an index that already holds some of the blobs, keeping their first locations', () => {
    const first = packsFor(7);
    const second = packsFor(8);
    second[0]!.blobs.push({ ...first[0]!.blobs[0]!, offset: 1 }, { type: 'data', id: idOf('new'), offset: 0, length: 1, rawLength: 1 });
    const scanned = indexByScan(fileJson(second), indexByScan(fileJson(first)));
    const added = indexByAdd(second, indexByAdd(first));
    expect([...scanned.values()]).toEqual([...added.values()]);
    expect(scanned.get(idOf('new'))).toMatchObject({ packId: second[0]!.id });
  });

  it('reads what IndexFileEncoder writes, gzipped or not, keys in any order, and an index file with no packs', async () => {
    const packs = packsFor(3);
    for (const gzip of [true, false]) {
      const encoder = new IndexFileEncoder(gzip);
      for (const p of packs) encoder.add({ id: p.id, size: p.size, blobs: p.blobs.length }, JSON.stringify(p.blobs));
      const written = await encoder.finish();
      expect(written[0] === 0x1f).toBe(gzip);
      expect([...indexByScan(written).values()]).toEqual([...indexByAdd(packs).values()]);
    }

    const reordered = `{"packs":[${packs.map((p) => `{"blobs":${JSON.stringify(p.blobs.map((e) => ({ rawLength: e.rawLength, compression: 0, length: e.length, offset: e.offset, id: e.id, type: e.type })))},"size":1,"id":"${p.id}"}`).join(',')}],"version":1}`;
    expect([...indexByScan(Buffer.from(reordered)).values()]).toEqual([...indexByAdd(packs).values()]);
    expect(indexByScan(Buffer.from('{"version":1,"packs":[]}')).size).toBe(0);
  });

  it('leaves any text not in the form bkdr writes to JSON.parse', () => {
    const id = idOf(1);
    const blob = (fields: string) => `{"version":1,"packs":[{"id":"${idOf(2)}","size":9,"blobs":[${fields}]}]}`;
    const plain = `"type":"data","id":"${id}","offset":0,"length":3,"rawLength":3`;
    expect(scanIndexFile(Buffer.from(blob(`{${plain}}`)))).toBeDefined();
    const others = [
      blob(`{ ${plain}}`), // white space
      `${blob(`{${plain}}`)}\n`,
      blob(`{${plain.replace(id, id.toUpperCase())}}`),
      blob(`{${plain.replace(id, id.slice(1))}}`),
      blob(`{${plain.replace('"data"', '"dat\\u0061"')}}`), // an escape
      blob(`{${plain.replace('"data"', '"blob"')}}`),
      blob(`{${plain.replace('"offset":0', '"offset":00')}}`),
      blob(`{${plain.replace('"offset":0', '"offset":-1')}}`),
      blob(`{${plain.replace('"offset":0', '"offset":1.5')}}`),
      blob(`{${plain.replace('"offset":0', '"offset":1e3')}}`),
      blob(`{${plain.replace('"offset":0', '"offset":1234567890123456')}}`), // past a double's exact integers
      blob(`{${plain.replace('"offset":0', '"offset":"0"')}}`),
      blob(`{${plain.replace(',"rawLength":3', '')}}`), // a required key missing
      blob(`{${plain},"length":4}`), // a key twice: JSON.parse keeps the last
      blob(`{${plain},"extra":1}`),
      blob(`{${plain.replace('"length"', '"lenGth"')}}`),
      blob('{}'),
      blob(`{${plain}},`),
      blob(`{${plain}`), // cut short
      `{"version":1,"packs":[{"id":"${idOf(2)}","blobs":[],"blobs":[]}]}`,
      `{"version":1,"packs":[{"size":1,"blobs":[]}]}`,
      `{"version":1,"packs":[],"packs":[]}`,
      '{"version":1}',
      '[]',
      '',
    ];
    for (const text of others) expect(scanIndexFile(Buffer.from(text)), text).toBeUndefined();
  });

  it("leaves gzip other than one whole member to Node's zlib", () => {
    const gzipped = gzipSync(fileJson(packsFor(5)));
    expect(scanIndexFile(gzipped)).toBeDefined();
    const [a, b] = [gzipSync('{"version":1,'), gzipSync('"packs":[]}')];
    const damaged = Buffer.from(gzipped);
    damaged[damaged.length >> 1]! ^= 0xff;
    const wrongSize = Buffer.from(gzipped);
    wrongSize.writeUInt32LE(wrongSize.readUInt32LE(wrongSize.length - 4) + 1, wrongSize.length - 4);
    for (const stored of [Buffer.concat([a!, b!]), damaged, wrongSize, gzipped.subarray(0, 17), gzipped.subarray(0, gzipped.length - 1)]) expect(scanIndexFile(stored)).toBeUndefined();
  });
});
