import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDirNames } from '../../src/sources/files/read-dir.js';
import { makeTempDir } from '../helpers/cli.js';

describe('readDirNames', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-readdir-');
  });
  afterEach(() => tmp.cleanup());

  it('lists every name as bytes, sorted bytewise, without . and ..', async () => {
    const dir = join(tmp.path, 'd');
    mkdirSync(dir);
    const names = [Buffer.from('b'), Buffer.from('a\nnewline'), Buffer.from([0x66, 0xff, 0x6f]), Buffer.from('ünï'), Buffer.from('.hidden')];
    for (const name of names) writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), '');
    mkdirSync(join(dir, 'sub'));
    for (let i = 0; i < 1000; i++) writeFileSync(join(dir, `many-${String(i).padStart(4, '0')}-${'x'.repeat(40)}`), '');
    const listed = await readDirNames(Buffer.from(dir));
    const expected = [...names, Buffer.from('sub'), ...Array.from({ length: 1000 }, (_, i) => Buffer.from(`many-${String(i).padStart(4, '0')}-${'x'.repeat(40)}`))].sort(Buffer.compare);
    expect(listed.map((n) => n.toString('hex'))).toEqual(expected.map((n) => n.toString('hex')));
    expect(await readDirNames(Buffer.from(join(dir, 'sub')))).toEqual([]);
  });

  it("leaves the directory's atime where it was", async () => {
    const dir = join(tmp.path, 'd');
    mkdirSync(dir);
    writeFileSync(join(dir, 'f'), '');
    // Older than the mtime and than a day: relatime would move it on the next listing.
    const old = new Date(Date.now() - 3 * 86_400_000);
    utimesSync(dir, old, new Date());
    const before = statSync(dir, { bigint: true }).atimeNs;
    expect((await readDirNames(Buffer.from(dir))).map(String)).toEqual(['f']);
    expect(statSync(dir, { bigint: true }).atimeNs).toBe(before);
    // What fs.readdir does on this file system, for comparison (a noatime mount moves nothing either way).
    readdirSync(dir);
    expect(statSync(dir, { bigint: true }).atimeNs).toBeGreaterThanOrEqual(before);
  });

  it("fails as fs.readdir does, with the error's code and the path", async () => {
    const missing = join(tmp.path, 'missing');
    await expect(readDirNames(Buffer.from(missing))).rejects.toMatchObject({ code: 'ENOENT', syscall: 'scandir', message: expect.stringContaining(missing) });
    writeFileSync(join(tmp.path, 'file'), 'x');
    await expect(readDirNames(Buffer.from(join(tmp.path, 'file')))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
