import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FanOutMember, FanOutRepository } from '../../src/backup/fan-out-repository.js';
import { encodeRecords } from '../../src/repo/blob-codec.js';
import type { BlobMaker } from '../../src/repo/repository.js';
import { Repository } from '../../src/repo/repository.js';
import type { Destination } from '../../src/runtime/destinations.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('FanOutRepository.saveMadeBlobs', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  /** Closed after each test: a repository left open leaves its pack handles to the garbage collector. */
  let opened: Repository[];
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-fan-out-');
    opened = [];
  });
  afterEach(async () => {
    await Promise.all(opened.map((repo) => repo.close()));
    await tmp.cleanup();
  });

  const blobs = [Buffer.from('one '.repeat(50)), Buffer.from('two')];
  /** Makes `blobs`, sealed when asked to seal (as the small files' reads do); counts the calls and what they were asked. */
  function maker(): { make: BlobMaker; asked: string[] } {
    const asked: string[] = [];
    const make: BlobMaker = async (seal) => {
      asked.push(seal ? 'sealed' : 'unsealed');
      const records = seal ? await encodeRecords(blobs, seal.sealing.key, seal.sealing.compression, seal.into) : undefined;
      return blobs.map((data, k) => ({ id: sha(data), data, sealed: records?.[k] }));
    };
    return { make, asked };
  }
  const member = async (name: string, password: string): Promise<FanOutMember> => {
    const repo = await Repository.create(createLocalAdapter({ name, path: join(tmp.path, name) }), { password });
    opened.push(repo);
    return { destination: { name } as Destination, repo };
  };

  it('makes the blobs once, unsealed, for several destinations (each seals under its own key), and sealed for one', async () => {
    const members = [await member('a', 'pw-a'), await member('b', 'pw-b')];
    const fanOut = new FanOutRepository(members);
    const both = maker();
    expect((await fanOut.saveMadeBlobs('data', 4096, both.make)).map((r) => r.stored)).toEqual([true, true]);
    expect(both.asked).toEqual(['unsealed']);
    members[1]!.error = new Error('b failed earlier');
    const one = maker();
    const more = [Buffer.from('three')];
    await fanOut.saveMadeBlobs('data', 4096, async (seal) => {
      one.asked.push(seal ? 'sealed' : 'unsealed');
      const records = await encodeRecords(more, seal!.sealing.key, seal!.sealing.compression, seal!.into);
      return [{ id: sha(more[0]!), data: more[0]!, sealed: records[0] }];
    });
    expect(one.asked).toEqual(['sealed']);
    for (const { repo } of members) await repo.flush();
    for (const data of [...blobs, ...more]) expect((await members[0]!.repo.loadBlob(sha(data))).equals(data)).toBe(true);
    for (const data of blobs) expect((await members[1]!.repo.loadBlob(sha(data))).equals(data)).toBe(true);
  });

  it("fails with the maker's failure without counting it against the destination", async () => {
    const only = await member('a', 'pw');
    const fanOut = new FanOutRepository([only]);
    await expect(fanOut.saveMadeBlobs('data', 4096, () => Promise.reject(new Error('read failed')))).rejects.toThrow('read failed');
    expect(only.error).toBeUndefined();
    const { make } = maker();
    expect((await fanOut.saveMadeBlobs('data', 4096, make)).map((r) => r.stored)).toEqual([true, true]);
  });
});
