import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, WrongPasswordError } from '../../src/core/errors.js';
import { NONCE_BYTES, seal } from '../../src/repo/crypto.js';
import { BufferPool } from '../../src/repo/buffer-pool.js';
import { encodeRecords } from '../../src/repo/blob-codec.js';
import { LocatedBlobs, Repository } from '../../src/repo/repository.js';
import { CREATION_OPERATION, RepositoryLock } from '../../src/repo/repository-lock.js';
import type { TreeNode } from '../../src/repo/tree-node.js';
import type { StorageAdapter, StreamedObject } from '../../src/storage/adapter.js';
import { makeTempDir } from '../helpers/cli.js';
import { recording } from '../helpers/recording-adapter.js';
import { countInFlight } from '../helpers/in-flight.js';
import { treeNode } from '../helpers/tree-nodes.js';
import { localAdapters } from '../helpers/local-adapters.js';

const localAdapter = localAdapters();

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const noSpace = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
/** The adapter as a destination that takes whole objects only (a remote one): packs are held in memory until put. */
function wholeObjects(adapter: StorageAdapter): StorageAdapter {
  const { createStreamed: _streamed, ...rest } = adapter;
  return { ...rest, name: adapter.name, kind: adapter.kind };
}

describe('Repository', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let adapter: StorageAdapter;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-repo-');
    adapter = localAdapter({ name: 'test-dest', path: join(tmp.path, 'repo') });
  });
  afterEach(() => tmp.cleanup());

  describe.each([
    ['lz4', 'pw'],
    ['gzip', 'pw'],
    ['brotli', null],
    ['none', null],
  ] as const)('with %s compression, password %s', (algorithm, password) => {
    it('round-trips blobs across sessions and deduplicates them', async () => {
      const repo = await Repository.create(adapter, { password, compression: { algorithm } });
      const text = Buffer.from('compressible '.repeat(10_000));
      const random = randomBytes(300_000);
      expect((await repo.saveBlob('data', sha(text), text)).stored).toBe(true);
      expect((await repo.saveBlob('data', sha(random), random)).stored).toBe(true);
      expect((await repo.saveBlob('data', sha(text), text)).stored).toBe(false);
      await repo.flush();

      const reopened = await Repository.open(adapter, { password, compression: { algorithm } });
      expect(reopened.encrypted).toBe(password !== null);
      expect(reopened.hasBlob(sha(text))).toBe(true);
      expect((await reopened.saveBlob('data', sha(random), random)).stored).toBe(false);
      expect((await reopened.loadBlob(sha(text))).equals(text)).toBe(true);
      expect((await reopened.loadBlob(sha(random))).equals(random)).toBe(true);
      const textLocation = reopened.lookupBlob(sha(text))!;
      if (algorithm !== 'none') expect(textLocation.length).toBeLessThan(text.length / 5);
      // Incompressible data is stored raw: no bigger than the input plus a tag byte and the seal.
      expect(reopened.lookupBlob(sha(random))!.length).toBeLessThanOrEqual(random.length + 1 + 28);
    });
  });

  it('writes packs, then the index, then the snapshot', async () => {
    const rec = recording(adapter);
    const repo = await Repository.create(rec, { password: 'pw', packSize: 64 * 1024 });
    rec.puts.length = 0;
    for (let i = 0; i < 10; i++) {
      const b = randomBytes(40_000);
      await repo.saveBlob('data', sha(b), b);
    }
    const tree = await repo.saveTree([]);
    await repo.flush();
    await repo.saveSnapshot({
      time: new Date().toISOString(),
      tree,
      paths: ['/x'],
      hostname: 'h',
      username: 'u',
      source: 's',
      strategy: 'full',
      tags: [],
      startTime: '',
      endTime: '',
      summary: { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, storedBytes: 0 },
      programVersion: 't',
    });
    const kinds = rec.puts.map((k) => k.split('/')[0]);
    expect(kinds.at(-1)).toBe('snapshots');
    expect(kinds.at(-2)).toBe('index');
    expect(kinds.slice(0, -2).every((k) => k === 'data')).toBe(true);
    expect(kinds.filter((k) => k === 'data').length).toBeGreaterThan(3);
  });

  it('creates in the background: blobs are sealed at once, but nothing is written before the key file, config and lock', async () => {
    const rec = recording(adapter);
    const { repo, created } = await Repository.openOrCreate(rec, { password: 'pw', packSize: 64 * 1024, lock: { exclusive: false, operation: 'backup' }, inBackground: true });
    expect(created).toBe(true);
    for (let i = 0; i < 5; i++) {
      const b = randomBytes(40_000);
      await repo.saveBlob('data', sha(b), b);
    }
    await repo.flush();
    await repo.close();
    const kinds = rec.puts.map((k) => k.split('/')[0]);
    const firstData = kinds.indexOf('data');
    expect(firstData).toBeGreaterThan(0);
    // The init lock, the key file, the config, the run's lock: all before the first pack.
    expect(kinds.slice(0, firstData)).toEqual(['locks', 'keys', 'config', 'locks']);
    expect((await Repository.open(adapter, { password: 'pw' })).blobCount).toBe(5);
    expect(await readdir(join(tmp.path, 'repo', 'locks'))).toEqual([]);
  });

  it('lets a run that finds a new repository still being created, or created meanwhile by another, open it', async () => {
    const backup = { exclusive: false, operation: 'backup' };
    const first = await Repository.openOrCreate(adapter, { password: 'pw', lock: backup });
    // Its config is written but its creation still holds its lock, as for a moment in every creation.
    const now = new Date().toISOString();
    const creation = { version: 1, exclusive: true, operation: CREATION_OPERATION, hostname: hostname(), username: 'test', pid: process.pid, createdAt: now, refreshedAt: now };
    await adapter.put('locks/creating', Buffer.from(JSON.stringify(creation)));
    setTimeout(() => void adapter.delete('locks/creating'), 300);
    const second = await Repository.openOrCreate(adapter, { password: 'pw', lock: backup });
    expect(second.created).toBe(false);
    await second.repo.close();
    // A run that saw no repository, then met the lock of the run that created it since.
    let looks = 0;
    const late: StorageAdapter = { ...adapter, name: adapter.name, kind: adapter.kind, stat: (key) => (looks++ === 0 ? Promise.resolve(undefined) : adapter.stat(key)) };
    const third = await Repository.openOrCreate(late, { password: 'pw', lock: backup });
    expect(third.created).toBe(false);
    await third.repo.close();
    await first.repo.close();
    expect(await readdir(join(tmp.path, 'repo', 'keys'))).toHaveLength(1);
    expect(await readdir(join(tmp.path, 'repo', 'locks'))).toEqual([]);
  });

  it('fails the first write, naming the destination, when the new repository cannot be written', async () => {
    const failing: StorageAdapter = {
      ...adapter,
      name: adapter.name,
      kind: adapter.kind,
      put: (key, body, opts) => (key === 'config' ? Promise.reject(new Error('disk full')) : adapter.put(key, body, opts)),
    };
    const { repo } = await Repository.openOrCreate(failing, { password: 'pw', inBackground: true });
    const b = randomBytes(1000);
    await repo.saveBlob('data', sha(b), b);
    await expect(repo.flush()).rejects.toThrow(/^destination test-dest: cannot create the repository: disk full$/);
    await repo.close();
    expect(await Repository.exists(adapter)).toBe(false);
    // Its key file went with it: no slot that the password opens but no config fits.
    expect(await readdir(join(tmp.path, 'repo', 'keys'))).toEqual([]);
    // Without inBackground, the creation itself fails.
    await expect(Repository.openOrCreate(failing, { password: 'pw' })).rejects.toThrow(/cannot create the repository: disk full/);
    // The init lock went with the failure: a second run creates the repository.
    const { created } = await Repository.openOrCreate(adapter, { password: 'pw' });
    expect(created).toBe(true);
  });

  it('seals concurrent saves into packs without gaps, each record whole where the header says', async () => {
    const repo = await Repository.create(adapter, { password: 'pw', packSize: 256 * 1024 });
    const blobs = new Map<string, Buffer>();
    const make = (n: number) => {
      // Half compressible, half random: records shorter than their bound and records as long.
      const b = n % 2 ? randomBytes(n) : Buffer.alloc(n, n % 251);
      blobs.set(sha(b), b);
      return { id: sha(b), data: b };
    };
    await Promise.all(
      Array.from({ length: 12 }, async (_, worker) => {
        for (let i = 0; i < 10; i++) {
          if ((worker + i) % 3 === 0)
            await repo.saveBlobs(
              'data',
              Array.from({ length: 20 }, (_, k) => make(1000 + worker * 97 + i * 31 + k)),
            );
          else {
            const { id, data } = make(40_000 + worker * 1013 + i * 7);
            await repo.saveBlob('data', id, data);
          }
        }
      }),
    );
    await repo.flush();
    let records = 0;
    for await (const p of repo.listPacks()) {
      const entries = await repo.readPackHeader(p.id, p.size);
      let offset = 0;
      for (const e of entries) {
        expect(e.offset).toBe(offset);
        offset += e.length;
      }
      records += entries.length;
    }
    expect(records).toBe(blobs.size);
    const reopened = await Repository.open(adapter, { password: 'pw' });
    for (const [id, data] of blobs) expect((await reopened.loadBlob(id)).equals(data)).toBe(true);
  });

  it('opens with the key slot that fits the config when others left by interrupted creations open with the same password', async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    const b = randomBytes(1000);
    await repo.saveBlob('data', sha(b), b);
    await repo.flush();
    await repo.close();
    // Slots wrapping master keys no config uses: what a creation stopped between key file and config leaves.
    for (let i = 0; i < 3; i++) {
      const other = localAdapter({ name: 'other', path: join(tmp.path, `other-${i}`) });
      await (await Repository.create(other, { password: 'pw' })).close();
      for (const k of await readdir(join(tmp.path, `other-${i}`, 'keys'))) await writeFile(join(tmp.path, 'repo', 'keys', k), await readFile(join(tmp.path, `other-${i}`, 'keys', k)));
    }
    const reopened = await Repository.open(adapter, { password: 'pw' });
    expect((await reopened.loadBlob(sha(b))).equals(b)).toBe(true);
    expect((await reopened.listKeys()).filter((k) => k.current)).toHaveLength(1);
  });

  it("seals a tree too large for a new tree pack's buffer, and leaves no empty pack open", async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    const small = await repo.saveTree([]);
    // A directory of many entries: a tree blob over the 1 MiB a tree pack starts with.
    const big: TreeNode[] = Array.from({ length: 8000 }, (_, i) => ({
      name: Buffer.from(`file-${i}-${randomBytes(24).toString('hex')}`),
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtimeNs: 1n,
      atimeNs: 1n,
      ctimeNs: 1n,
      dev: 1n,
      inode: BigInt(i),
      nlink: 1,
      size: 1,
      content: [randomBytes(32).toString('hex')],
    }));
    const bigId = await repo.saveTree(big);
    await repo.flush();
    const summary = { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, storedBytes: 0 };
    await repo.saveSnapshot({
      time: new Date().toISOString(),
      tree: bigId,
      paths: ['/x'],
      hostname: 'h',
      username: 'u',
      source: 's',
      strategy: 'full',
      tags: [],
      startTime: '',
      endTime: '',
      summary,
      programVersion: 't',
    });
    expect(await repo.loadTree(small)).toEqual([]);
    expect(await repo.loadTree(bigId)).toHaveLength(8000);
  });

  it('stores at most uploadConcurrency packs at once, however many saves fill packs at the same moment', async () => {
    // A local disk's packs are streamed: stored by the finish that writes the rest and syncs, then named.
    const stores = countInFlight((object: StreamedObject, tail: Buffer) => object.finish(tail), { holdMs: 5 });
    const createStreamed = (dir: string): StreamedObject => {
      const object = adapter.createStreamed!(dir);
      return { ...object, finish: (tail) => stores.call(object, tail) };
    };
    const counting: StorageAdapter = { ...adapter, name: adapter.name, kind: adapter.kind, createStreamed };
    const repo = await Repository.create(counting, { password: 'pw', packSize: 64 * 1024, uploadConcurrency: 1 });
    const saved: string[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        for (let i = 0; i < 5; i++) {
          const b = randomBytes(40_000);
          saved.push(sha(b));
          await repo.saveBlob('data', sha(b), b);
        }
      }),
    );
    await repo.flush();
    expect(stores.most).toBe(1);
    const reopened = await Repository.open(adapter, { password: 'pw' });
    for (const id of saved) expect(reopened.lookupBlob(id)).toBeDefined();
  });

  it('keeps memory bounded: pending pack bytes stay under a few packs whatever the input', async () => {
    const packSize = 1024 * 1024;
    // Counted for packs held in memory; a streamed pack's buffer is bounded by the pack itself (streamed-pack.test.ts).
    const repo = await Repository.create(wholeObjects(adapter), { password: 'pw', packSize, compression: { algorithm: 'none' } });
    for (let i = 0; i < 200; i++) {
      const b = randomBytes(1024 * 1024);
      await repo.saveBlob('data', sha(b), b);
    }
    await repo.flush();
    expect(repo.blobCount).toBe(200);
    expect(repo.pendingHighWater).toBeLessThanOrEqual(packSize * 6);
  });

  it('fetches each pack once when restoring several blobs from it', async () => {
    const rec = recording(adapter);
    const repo = await Repository.create(rec, { password: 'pw' });
    const blobs = Array.from({ length: 20 }, () => randomBytes(10_000));
    for (const b of blobs) await repo.saveBlob('data', sha(b), b);
    await repo.flush();
    const locations = blobs.map((b) => repo.lookupBlob(sha(b))!);
    const packIds = new Set(locations.map((l) => l.packId));
    expect(packIds.size).toBe(1);
    rec.gets.length = 0;
    const got = new Map<string, Buffer>();
    const blobs20 = new LocatedBlobs(locations);
    await repo.readPack([...packIds][0]!, blobs20, (k, data) => void got.set(blobs20.id(k), data));
    expect(rec.gets.length).toBe(1);
    for (const b of blobs) expect(got.get(sha(b))!.equals(b)).toBe(true);
  });

  it.each([
    // Twenty-four 512 KiB records: spans of 4 MiB take seven, spans of 1 MiB one (a record is a little over 512 KiB).
    { kind: 's3', span: 4, requests: [4, 5] },
    { kind: 'local', span: 1, requests: [24, 25] },
  ])('reads a large pack from a $kind destination in spans of $span MiB, each blob once and whole', async ({ kind, span, requests }) => {
    const rec = { ...recording(adapter), kind };
    const repo = await Repository.create(rec, { password: 'pw', packSize: 16 * 1024 * 1024, compression: { algorithm: 'none' } });
    // Twenty-four 512 KiB blobs and one of 5 MiB, larger than a span on its own.
    const blobs = [...Array.from({ length: 24 }, () => randomBytes(512 * 1024)), randomBytes(5 * 1024 * 1024)];
    for (const b of blobs) await repo.saveBlob('data', sha(b), b);
    await repo.flush();
    const locations = blobs.map((b) => repo.lookupBlob(sha(b))!);
    expect(new Set(locations.map((l) => l.packId)).size).toBe(1);
    rec.gets.length = 0;
    const got: string[] = [];
    const reversed = new LocatedBlobs([...locations].reverse());
    await repo.readPack(locations[0]!.packId, reversed, (k, data) => {
      expect(sha(data)).toBe(reversed.id(k));
      got.push(reversed.id(k));
    });
    expect(got).toEqual(blobs.map(sha));
    expect(rec.gets.length).toBeGreaterThanOrEqual(requests[0]!);
    expect(rec.gets.length).toBeLessThanOrEqual(requests[1]!);
    // No request larger than the span, except the one for the blob that exceeds it.
    const large = rec.gets.filter((g) => g.range!.length > span * 1024 * 1024);
    expect(large.map((g) => g.range!.length)).toEqual([expect.toSatisfy((n: number) => n >= 5 * 1024 * 1024 && n <= 5 * 1024 * 1024 + 1024)]);
  });

  it('stops at a record the pack ends inside, also when the index lists whole records after it', async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    const blobs = Array.from({ length: 10 }, () => randomBytes(1000));
    for (const b of blobs) await repo.saveBlob('data', sha(b), b);
    await repo.flush();
    const locations = blobs.map((b) => repo.lookupBlob(sha(b))!);
    const packId = locations[0]!.packId;
    const packSize = (await readFile(join(tmp.path, 'repo', 'data', packId.slice(0, 2), packId))).length;
    // A damaged index: blob 8's record runs past the end of the pack, blob 9's is whole.
    const damaged = new LocatedBlobs([...locations.slice(0, 8), { ...locations[8]!, length: packSize - locations[8]!.offset + 50 }, locations[9]!]);
    const got: number[] = [];
    const failure = await repo.readPack(packId, damaged, (k) => void got.push(k)).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(IntegrityError);
    expect((failure as Error).message).toMatch(/truncated/);
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('reuses released buffers for later blobs, and never the buffer of a blob still held', async () => {
    const rec = recording(adapter);
    const repo = await Repository.create(rec, { password: 'pw', packSize: 16 * 1024 * 1024 });
    // Small blobs (opened in batches) and large ones (opened one by one), over several spans.
    const blobs = [...Array.from({ length: 300 }, () => randomBytes(20_000)), ...Array.from({ length: 6 }, () => randomBytes(300_000))];
    for (const b of blobs) await repo.saveBlob('data', sha(b), b);
    await repo.flush();
    const locations = blobs.map((b) => repo.lookupBlob(sha(b))!);
    const packId = locations[0]!.packId;
    const pool = new BufferPool(64 * 1024 * 1024);
    // Every other blob is held to the end; the rest are released as soon as they are read.
    const held: { id: string; data: Buffer }[] = [];
    let n = 0;
    const inPack = new LocatedBlobs(locations.filter((l) => l.packId === packId));
    await repo.readPack(
      packId,
      inPack,
      (k, data, release) => {
        expect(sha(data)).toBe(inPack.id(k));
        if (n++ % 2 === 0) held.push({ id: inPack.id(k), data });
        else release();
      },
      pool,
    );
    for (const h of held) expect(sha(h.data)).toBe(h.id);
    expect(n).toBe(locations.filter((l) => l.packId === packId).length);
    // The reads went through the pool's buffers too, and what was released came back to it.
    expect(rec.gets.some((g) => g.range?.into !== undefined)).toBe(true);
    expect(pool.retained).toBeGreaterThan(0);
  });

  it('decodes records that are small stored but large decoded one by one, and batches at most ~1 MiB decoded', async () => {
    const repo = await Repository.create(adapter, { password: 'pw', packSize: 16 * 1024 * 1024, compression: { algorithm: 'lz4' } });
    // 600 KiB that LZ4 stores in a few KiB (a repeated random line), then small files' worth of text.
    const compressible = (i: number) => Buffer.from(`${i} ${randomBytes(48).toString('hex')}\n`.repeat(Math.ceil((600 * 1024) / 100))).subarray(0, 600 * 1024);
    const textFile = (i: number) => Buffer.from(`${i} ${randomBytes(24).toString('hex')}\n`.repeat(200));
    const blobs = [...Array.from({ length: 20 }, (_, i) => compressible(i)), ...Array.from({ length: 300 }, (_, i) => textFile(i))];
    for (const b of blobs) await repo.saveBlob('data', sha(b), b);
    await repo.flush();
    const locations = blobs.map((b) => repo.lookupBlob(sha(b))!);
    expect(new Set(locations.map((l) => l.packId)).size).toBe(1);
    expect(locations[0]!.length).toBeLessThan(64 * 1024);
    const allocated: number[] = [];
    const pool = new BufferPool(64 * 1024 * 1024, { allocate: (size) => (allocated.push(size), Buffer.allocUnsafeSlow(size)) });
    const got: string[] = [];
    const all = new LocatedBlobs(locations);
    await repo.readPack(
      locations[0]!.packId,
      all,
      (k, data, release) => {
        expect(sha(data)).toBe(all.id(k));
        got.push(all.id(k));
        release();
      },
      pool,
    );
    expect(got).toEqual(blobs.map(sha));
    // Counted stored, the 20 large ones made one batch of 12 MiB decoded; the span read is under 1 MiB here.
    expect(Math.max(...allocated)).toBeLessThanOrEqual(2 * 1024 * 1024);
  });

  it('reuses a pack buffer only once its pack is stored', async () => {
    // A destination that takes its time: the pack's bytes are read only after a while.
    const slow: StorageAdapter = { ...wholeObjects(adapter), put: async (key, body, opts) => (await new Promise((r) => setTimeout(r, 15)), adapter.put(key, body, opts)) };
    const repo = await Repository.create(slow, { password: 'pw', packSize: 256 * 1024 });
    const blobs = Array.from({ length: 60 }, () => randomBytes(50_000));
    for (const b of blobs) await repo.saveBlob('data', sha(b), b);
    await repo.flush();
    const packs = new Set(blobs.map((b) => repo.lookupBlob(sha(b))!.packId));
    expect(packs.size).toBeGreaterThan(6);
    for (const id of packs) expect(sha(await readFile(join(tmp.path, 'repo', 'data', id.slice(0, 2), id)))).toBe(id);
    for (const b of blobs) expect((await repo.loadBlob(sha(b))).equals(b)).toBe(true);
  });

  it('stores streamed packs whole however slowly their file takes each part, with saves sealing into them meanwhile', async () => {
    const slowly: StorageAdapter = {
      ...adapter,
      name: adapter.name,
      kind: adapter.kind,
      createStreamed: (dir) => {
        const object = adapter.createStreamed!(dir);
        return { ...object, append: async (data) => (await new Promise((r) => setTimeout(r, 5)), object.append(data)) };
      },
    };
    const repo = await Repository.create(slowly, { password: 'pw', packSize: 4 * 1024 * 1024 });
    const blobs = Array.from({ length: 160 }, () => randomBytes(100_000));
    await Promise.all(
      Array.from({ length: 4 }, async (_, lane) => {
        for (let i = lane; i < blobs.length; i += 4) await repo.saveBlob('data', sha(blobs[i]!), blobs[i]!);
      }),
    );
    await repo.flush();
    const packs = new Set(blobs.map((b) => repo.lookupBlob(sha(b))!.packId));
    expect(packs.size).toBeGreaterThan(3);
    for (const id of packs) expect(sha(await readFile(join(tmp.path, 'repo', 'data', id.slice(0, 2), id)))).toBe(id);
    for (const b of blobs) expect((await repo.loadBlob(sha(b))).equals(b)).toBe(true);
    expect((await readdir(join(tmp.path, 'repo', 'data'))).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('leaves no pack file behind when closed without a flush, and opens no pack after', async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    // Past the streaming threshold: parts of the open pack are in its file.
    for (let i = 0; i < 30; i++) {
      const b = randomBytes(100_000);
      await repo.saveBlob('data', sha(b), b);
    }
    await repo.close();
    expect((await readdir(join(tmp.path, 'repo', 'data'))).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
    const late = randomBytes(1000);
    await expect(repo.saveBlob('data', sha(late), late)).rejects.toThrow(/closed while blobs were being saved/);
  });

  it('never reuses a pack buffer on a remote destination, whose timed-out put may still be sending it', async () => {
    const sent: { key: string; body: Buffer }[] = [];
    const remote: StorageAdapter = {
      ...wholeObjects(adapter),
      kind: 'sftp',
      put: async (key, body, opts) => {
        if (Buffer.isBuffer(body) && key.startsWith('data/')) sent.push({ key, body });
        return adapter.put(key, body, opts);
      },
    };
    const repo = await Repository.create(remote, { password: 'pw', packSize: 256 * 1024 });
    for (let i = 0; i < 40; i++) {
      const b = randomBytes(50_000);
      await repo.saveBlob('data', sha(b), b);
    }
    await repo.flush();
    expect(sent.length).toBeGreaterThan(5);
    // Every buffer a put was given still holds that pack, long after the put returned.
    for (const { key, body } of sent) expect(sha(body)).toBe(key.split('/').pop());
  });

  it('keeps the records of made blobs it lacks, drops those stored, pending or repeated, and seals those made unsealed', async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    const stored = Buffer.from('stored already '.repeat(100));
    await repo.saveBlob('data', sha(stored), stored);
    const blobs = [stored, Buffer.from('new one '.repeat(100)), Buffer.from('new two'), Buffer.from('new one '.repeat(100))];
    const bounds: number[] = [];
    const made = await repo.saveMadeBlobs('data', 64 * 1024, async (seal) => {
      bounds.push(seal!.into.length);
      // Sealed as the small files' reads seal them: one record after another in the space given.
      const records = await encodeRecords(blobs, seal!.sealing.key, seal!.sealing.compression, seal!.into);
      return blobs.map((data, k) => ({ id: sha(data), data, sealed: records[k] }));
    });
    expect(bounds).toEqual([64 * 1024]);
    expect(made.map((r) => r.stored)).toEqual([false, true, true, false]);
    // Made without sealing (brotli, or several destinations): sealed here, the one already pending skipped.
    const later = Buffer.from('made unsealed');
    const unsealed = await repo.saveMadeBlobs('data', 1024, async () => [
      { id: sha(later), data: later },
      { id: sha(blobs[2]!), data: blobs[2]! },
    ]);
    expect(unsealed.map((r) => r.stored)).toEqual([true, false]);
    await repo.flush();
    for (const data of [...blobs, later]) expect((await repo.loadBlob(sha(data))).equals(data)).toBe(true);
    await expect(repo.saveMadeBlobs('data', 1024, () => Promise.reject(new Error('read failed')))).rejects.toThrow('read failed');
    // A failed make leaves nothing pending or reserved: the next save goes through.
    const after = Buffer.from('after the failure');
    expect((await repo.saveBlobs('data', [{ id: sha(after), data: after }]))[0]!.stored).toBe(true);
    await repo.flush();
    expect((await repo.loadBlob(sha(after))).equals(after)).toBe(true);
  });

  it('reads a pack holding 150 000 blobs in one go', async () => {
    const repo = await Repository.create(adapter, { password: 'pw', packSize: 64 * 1024 * 1024 });
    const blobs = Array.from({ length: 150_000 }, (_, i) => Buffer.from(`b${i}`));
    for (let i = 0; i < blobs.length; i += 5000)
      await repo.saveBlobs(
        'data',
        blobs.slice(i, i + 5000).map((data) => ({ id: sha(data), data })),
      );
    await repo.flush();
    const locations = blobs.map((b) => repo.lookupBlob(sha(b))!);
    expect(new Set(locations.map((l) => l.packId)).size).toBe(1);
    let count = 0;
    const many = new LocatedBlobs(locations);
    await repo.readPack(locations[0]!.packId, many, (k, data) => {
      expect(many.id(k)).toBe(sha(data));
      count++;
    });
    expect(count).toBe(150_000);
  });

  it('writes format 2 (gzipped index files), and keeps a format 1 repository readable by the versions that wrote it', async () => {
    const created = await Repository.create(adapter, { password: null });
    await created.saveBlob('data', sha(Buffer.from('one')), Buffer.from('one'));
    await created.flush();
    await created.close();
    const configPath = join(tmp.path, 'repo', 'config');
    const envelope = await readFile(configPath);
    expect(envelope[8]).toBe(2);
    const indexFiles = async () => Promise.all((await readdir(join(tmp.path, 'repo', 'index'))).map((f) => readFile(join(tmp.path, 'repo', 'index', f))));
    expect((await indexFiles())[0]!.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));

    envelope[8] = 1; // as bkdr 0.1 wrote it
    await writeFile(configPath, envelope);
    const old = await Repository.open(adapter, { password: null });
    expect(old.hasBlob(sha(Buffer.from('one')))).toBe(true);
    await old.saveBlob('data', sha(Buffer.from('two')), Buffer.from('two'));
    await old.flush();
    await old.close();
    const plain = (await indexFiles()).filter((f) => f[0] === 0x7b);
    expect(plain).toHaveLength(1);
    expect(JSON.parse(plain[0]!.toString()).packs[0].blobs[0].id).toBe(sha(Buffer.from('two')));
    expect((await Repository.open(adapter, { password: null })).blobCount).toBe(2);

    // Not the form bkdr writes (white space): read through JSON.parse, to the same locations.
    const location = (await Repository.open(adapter, { password: null })).lookupBlob(sha(Buffer.from('two')));
    const indexDir = join(tmp.path, 'repo', 'index');
    for (const name of await readdir(indexDir)) {
      const stored = await readFile(join(indexDir, name));
      if (stored[0] !== 0x7b) continue;
      const pretty = Buffer.from(JSON.stringify(JSON.parse(stored.toString()), null, 2));
      await rm(join(indexDir, name));
      await writeFile(join(indexDir, sha(pretty)), pretty);
    }
    const reread = await Repository.open(adapter, { password: null });
    expect(reread.blobCount).toBe(2);
    expect(reread.lookupBlob(sha(Buffer.from('two')))).toEqual(location);
  });

  it('round-trips trees with non-UTF-8 names, bigints and xattrs, and serializes them deterministically', async () => {
    const repo = await Repository.create(adapter, { password: null });
    const node = (name: Buffer): TreeNode => ({
      name,
      type: 'file',
      mode: 0o4755,
      uid: 1234,
      gid: 5678,
      mtimeNs: 4_102_444_800_123_456_789n,
      atimeNs: 1n,
      ctimeNs: 2n,
      dev: 2049n,
      inode: 18_446_744_073_709_551_615n,
      nlink: 2,
      size: 3,
      content: ['ab'.repeat(32)],
      xattrs: { 'user.x': Buffer.from([0, 1, 2, 255]) },
    });
    const nodes = [node(Buffer.from([0x66, 0xff, 0xfe])), node(Buffer.from('ünï'))];
    const a = await repo.saveTree(nodes);
    const b = await repo.saveTree([...nodes].reverse());
    expect(a).toBe(b);
    await repo.flush();
    const loaded = await repo.loadTree(a);
    expect(loaded.map((n) => n.name.toString('hex')).sort()).toEqual(nodes.map((n) => n.name.toString('hex')).sort());
    const back = loaded.find((n) => n.name.equals(nodes[0]!.name))!;
    expect(back).toEqual(nodes[0]);
  });

  /** A listing of 40 empty files, a different one for each `i`. */
  const emptyFiles = (i: number): TreeNode[] => Array.from({ length: 40 }, (_, k) => treeNode(`file-${i}-${k}`, { mtimeNs: BigInt(i), inode: BigInt(k), size: 0, content: [] }));

  it('seals trees in the background: a tree is pending from its saveTree on, and flush waits for every one', async () => {
    const repo = await Repository.create(adapter, { password: 'pw', packSize: 64 * 1024 });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const id = await repo.saveTree(emptyFiles(i));
      expect(repo.hasBlob(id)).toBe(true);
      ids.push(id);
    }
    // The same tree again is not sealed twice.
    expect(await repo.saveTree(emptyFiles(7))).toBe(ids[7]);
    // Saves not awaited, more than there are sealing slots: flush waits also for those still waiting for one.
    const unawaited = Array.from({ length: 20 }, (_, i) => repo.saveTree(emptyFiles(1000 + i)));
    await repo.flush();
    ids.push(...(await Promise.all(unawaited)));
    await repo.close();
    const reopened = await Repository.open(adapter, { password: 'pw' });
    const names = (nodes: TreeNode[]) => nodes.map((n) => n.name.toString()).sort();
    for (const [i, id] of ids.entries()) expect(names(await reopened.loadTree(id))).toEqual(names(emptyFiles(i < 200 ? i : 1000 + i - 200)));
    expect(reopened.lookupBlob(ids[7]!)).toBeDefined();
    await reopened.close();
  });

  it('forgets the blobs and trees a failed run leaves in no pack, so a later save in the session stores them', async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    const data = Buffer.from('a blob in a pack that is never finished');
    await repo.saveBlob('data', sha(data), data);
    // Fewer trees than a sealing batch: still waiting to be sent.
    const tree = await repo.saveTree(emptyFiles(1));
    expect(repo.hasBlob(sha(data)) && repo.hasBlob(tree)).toBe(true);
    await repo.settleAfterFailure();
    expect(repo.hasBlob(sha(data))).toBe(false);
    expect(repo.hasBlob(tree)).toBe(false);
    // The next source of the run stores them again, and its snapshot can be read whole.
    expect((await repo.saveBlob('data', sha(data), data)).stored).toBe(true);
    expect(await repo.saveTree(emptyFiles(1))).toBe(tree);
    await repo.flush();
    expect(repo.lookupBlob(sha(data))).toBeDefined();
    expect((await repo.loadTree(tree)).length).toBe(40);
    await repo.close();
  });

  it('fails the next saveTree and the flush when a pack of trees sealed in the background cannot be stored', async () => {
    const full: StorageAdapter = {
      ...adapter,
      name: adapter.name,
      kind: adapter.kind,
      put: (key, body, opts) => (key.startsWith('data/') ? Promise.reject(noSpace()) : adapter.put(key, body, opts)),
      createStreamed: (dir) => ({ ...adapter.createStreamed!(dir), append: () => Promise.reject(noSpace()), finish: () => Promise.reject(noSpace()) }),
    };
    const repo = await Repository.create(full, { password: 'pw', packSize: 16 * 1024 });
    const saving = (async () => {
      for (let i = 0; i < 500; i++) await repo.saveTree(emptyFiles(i));
    })();
    await expect(saving).rejects.toThrow(/ENOSPC/);
    await expect(repo.flush()).rejects.toThrow(/ENOSPC/);
    const left = await repo.settleAfterFailure();
    expect(left.indexed.packs + left.deleted.packs + left.left.packs).toBe(0);
    await repo.close();
    expect(await readdir(join(tmp.path, 'repo', 'data')).catch(() => [])).toEqual([]);
  });

  it('says which destination has the wrong password, with exit code 2', async () => {
    await Repository.create(adapter, { password: 'right' });
    const err = await Repository.open(adapter, { password: 'wrong' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongPasswordError);
    expect((err as WrongPasswordError).exitCode).toBe(2);
    expect((err as Error).message).toBe('wrong password for destination test-dest');
  });

  it('leaves no lock behind when an open is refused (wrong password, a conflicting lock, a damaged index file)', async () => {
    const created = await Repository.create(adapter, { password: 'right' });
    await created.saveBlob('data', sha(Buffer.from('one')), Buffer.from('one'));
    await created.flush();
    await created.close();
    const locks = async () => (await readdir(join(tmp.path, 'repo', 'locks')).catch(() => [])).length;
    const shared = { exclusive: false, operation: 'restore' };

    await expect(Repository.open(adapter, { password: 'wrong', lock: shared })).rejects.toBeInstanceOf(WrongPasswordError);
    expect(await locks()).toBe(0);
    // A lock that may wait is asked for only with the right password: a wrong one is told at once, not after the wait.
    const prune = await RepositoryLock.acquire(adapter, { exclusive: true, operation: 'prune' });
    await expect(Repository.open(adapter, { password: 'wrong', lock: { ...shared, waitMs: 600_000 } })).rejects.toBeInstanceOf(WrongPasswordError);
    await prune.release();

    const opened = await Repository.open(adapter, { password: 'right', lock: shared });
    expect(opened.hasBlob(sha(Buffer.from('one')))).toBe(true);
    expect(await locks()).toBe(1);
    // Refused by the lock held, with the right password.
    await expect(Repository.open(adapter, { password: 'right', lock: { exclusive: true, operation: 'prune' } })).rejects.toThrow(/is locked by/);
    await opened.close();
    expect(await locks()).toBe(0);

    // Refused by a damaged index file, after the lock was taken: the lock goes too.
    const indexDir = join(tmp.path, 'repo', 'index');
    const [name] = await readdir(indexDir);
    const stored = await readFile(join(indexDir, name!));
    stored[stored.length - 1]! ^= 1;
    await writeFile(join(indexDir, name!), stored);
    await expect(Repository.open(adapter, { password: 'right', lock: shared })).rejects.toThrow(/damaged/);
    expect(await locks()).toBe(0);
  });

  it('opens with any of several key slots and refuses to remove the last one', async () => {
    const repo = await Repository.create(adapter, { password: 'first' });
    const second = await repo.addKey('second');
    const viaSecond = await Repository.open(adapter, { password: 'second' });
    expect(viaSecond.id).toBe(repo.id);
    const keys = await repo.listKeys();
    expect(keys).toHaveLength(2);
    await viaSecond.removeKey(keys.find((k) => k.id !== second)!.id);
    await expect(Repository.open(adapter, { password: 'first' })).rejects.toBeInstanceOf(WrongPasswordError);
    await expect(viaSecond.removeKey(second)).rejects.toThrow(/last key/);
  });

  it('says once that a key derivation is under way, however many key slots it tries, and never when unencrypted', async () => {
    const repo = await Repository.create(adapter, { password: 'first' });
    await repo.addKey('second');
    await repo.close();
    let calls = 0;
    const onKeyDerivation = () => calls++;
    // A wrong password derives a key for every slot before it is refused.
    await expect(Repository.open(adapter, { password: 'neither', onKeyDerivation })).rejects.toBeInstanceOf(WrongPasswordError);
    expect(calls).toBe(1);
    const reopened = await Repository.open(adapter, { password: 'second', onKeyDerivation });
    expect(calls).toBe(2);
    expect(reopened.id).toBe(repo.id);
    await reopened.close();
    // A hook that throws is the caller's problem, not the open's.
    const throwing = await Repository.open(adapter, {
      password: 'first',
      onKeyDerivation: () => {
        throw new Error('hook');
      },
    });
    expect(throwing.id).toBe(repo.id);
    await throwing.close();

    const plainAdapter = localAdapter({ name: 'plain', path: join(tmp.path, 'plain') });
    await (await Repository.create(plainAdapter, { password: null })).close();
    await (await Repository.open(plainAdapter, { password: null, onKeyDerivation })).close();
    expect(calls).toBe(2);
  });

  it('detects a flipped byte in a pack', async () => {
    const repo = await Repository.create(adapter, { password: null, compression: { algorithm: 'none' } });
    const b = randomBytes(50_000);
    await repo.saveBlob('data', sha(b), b);
    await repo.flush();
    const loc = repo.lookupBlob(sha(b))!;
    const file = join(tmp.path, 'repo', 'data', loc.packId.slice(0, 2), loc.packId);
    const bytes = await readFile(file);
    bytes[loc.offset + 100]! ^= 0xff;
    await writeFile(file, bytes);
    await expect(repo.loadBlob(sha(b))).rejects.toBeInstanceOf(IntegrityError);
  });

  it('resolves snapshot id prefixes', async () => {
    const repo = await Repository.create(adapter, { password: 'pw' });
    const tree = await repo.saveTree([]);
    await repo.flush();
    const summary = { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, storedBytes: 0 };
    const id = await repo.saveSnapshot({
      time: '2026-01-01T00:00:00.000Z',
      tree,
      paths: [],
      hostname: 'h',
      username: 'u',
      source: 's',
      strategy: 'full',
      tags: ['t'],
      startTime: '',
      endTime: '',
      summary,
      programVersion: 't',
    });
    expect((await repo.loadSnapshot(id.slice(0, 8))).id).toBe(id);
    expect((await repo.listSnapshots()).map((s) => s.id)).toEqual([id]);
    await expect(repo.loadSnapshot('zzzz')).rejects.toThrow(/not a backup id/);
  });

  it('lists snapshots oldest first, reading several at once, and fails the list on a damaged one', async () => {
    const gets = countInFlight(adapter.get.bind(adapter), { counts: (key) => key.startsWith('snapshots/') });
    const counting: StorageAdapter = { ...adapter, name: adapter.name, kind: adapter.kind, get: gets.call };
    const repo = await Repository.create(counting, { password: 'pw' });
    const tree = await repo.saveTree([]);
    await repo.flush();
    const summary = { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, storedBytes: 0 };
    const ids: string[] = [];
    // Saved newest first: the list's order is the snapshots' times, not the order they were written or are listed in.
    for (let i = 39; i >= 0; i--) {
      const time = new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString();
      ids[i] = await repo.saveSnapshot({ time, tree, paths: [], hostname: 'h', username: 'u', source: 's', strategy: 'full', tags: [], startTime: time, endTime: time, summary, programVersion: 't' });
    }
    expect((await repo.listSnapshots()).map((s) => s.id)).toEqual(ids);
    expect(gets.most).toBeGreaterThan(1);
    const damaged = join(tmp.path, 'repo', 'snapshots', ids[17]!);
    const bytes = await readFile(damaged);
    bytes[20]! ^= 1;
    await writeFile(damaged, bytes);
    await expect(repo.listSnapshots()).rejects.toThrow(new RegExp(`snapshot ${ids[17]!.slice(0, 8)} .* is damaged`));
    await repo.close();
  });
});

describe('sealing', () => {
  it('never reuses a nonce, across refills of the nonce pool', () => {
    const key = Buffer.alloc(32, 7);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(seal(key, Buffer.from('x')).subarray(0, NONCE_BYTES).toString('hex'));
    expect(seen.size).toBe(10_000);
  });
});
