import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timespec } from '../../src/sources/files/timespec.js';
import { FILE_META, writeNewFiles } from '../../src/sources/files/write-files.js';

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atimeNs: bigint;
  mtimeNs: bigint;
}

/** FILE_META numbers per file, as a restore packs them from its plan. */
function packed(metadata: Meta[]): Float64Array {
  const out = new Float64Array(metadata.length * FILE_META);
  for (const [i, m] of metadata.entries()) out.set([m.mode, m.uid, m.gid, ...timespec(m.atimeNs), ...timespec(m.mtimeNs)], i * FILE_META);
  return out;
}

describe('writeNewFiles', () => {
  // Made when the tests run, not when they are collected: a -t filter that skips them all runs no afterAll.
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkdr-write-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates new files with their content and mode 0600, and never writes over a file or through a link', async () => {
    const outside = join(dir, 'outside');
    writeFileSync(outside, 'keep me');
    symlinkSync(outside, join(dir, 'link'));
    writeFileSync(join(dir, 'existing'), 'old');
    const names = ['a', 'b', 'link', 'existing', 'missing-dir/c'];
    const results = await writeNewFiles(
      names.map((n) => Buffer.from(join(dir, n))),
      names.map((n) => Buffer.from(`content of ${n}`)),
      null,
      { owner: false },
    );
    expect(results.slice(0, 2)).toEqual([undefined, undefined]);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('content of a');
    expect(lstatSync(join(dir, 'b')).mode & 0o777).toBe(0o600);
    expect(results[2]?.code).toBe('EEXIST');
    expect(results[3]?.code).toBe('EEXIST');
    expect(results[4]?.code).toBe('ENOENT');
    expect(readFileSync(outside, 'utf8')).toBe('keep me');
    expect(readFileSync(join(dir, 'existing'), 'utf8')).toBe('old');
  });

  it('sets mode and times through the open file, before 1970 too', async () => {
    const node = { mode: 0o751, uid: 0, gid: 0, atimeNs: -1_500_000_000n, mtimeNs: 1_700_000_000_123_456_789n };
    const [result] = await writeNewFiles([Buffer.from(join(dir, 'meta'))], [Buffer.from('x')], packed([node]), { owner: false });
    expect(result).toBeUndefined();
    const st = lstatSync(join(dir, 'meta'), { bigint: true });
    expect(Number(st.mode & 0o7777n)).toBe(0o751);
    expect(st.mtimeNs).toBe(node.mtimeNs);
    expect(st.atimeNs).toBe(node.atimeNs);
  });

  it('gives each file exactly its mode, whatever the umask, with set-id bits or no write bit', async () => {
    // A new file is created with its permission bits less the umask, and changed only when that cut some (or set-id bits are wanted).
    const modes = [0o777, 0o666, 0o644, 0o600, 0o444, 0o000, 0o4755, 0o2750, 0o1700];
    const files = modes.map((mode, i) => ({
      path: Buffer.from(join(dir, `mode-${i}`)),
      data: Buffer.from(`mode ${mode.toString(8)}`),
      metadata: { mode, uid: process.geteuid!(), gid: process.getegid!(), atimeNs: 0n, mtimeNs: 1_000_000_000n },
    }));
    const results = await writeNewFiles(
      files.map((f) => f.path),
      files.map((f) => f.data),
      packed(files.map((f) => f.metadata)),
      { owner: process.geteuid!() === 0 },
    );
    expect(results).toEqual(modes.map(() => undefined));
    for (const [i, mode] of modes.entries()) {
      const st = lstatSync(join(dir, `mode-${i}`));
      expect((st.mode & 0o7777).toString(8)).toBe(mode.toString(8));
      // Its size, not its content: a user other than root cannot read a file of mode 000.
      expect(st.size).toBe(files[i]!.data.length);
    }
  });

  /** As root: one file per mode in `where`, to be owned by `uid`:`gid`; each file's mode and owner as they came out. */
  async function writeOwned(where: string, modes: number[], uid: number, gid: number) {
    const paths = modes.map((_, i) => Buffer.from(join(where, `owned-${i}`)));
    const results = await writeNewFiles(
      paths,
      modes.map((mode) => Buffer.from(mode.toString(8))),
      packed(modes.map((mode) => ({ mode, uid, gid, atimeNs: 0n, mtimeNs: 1_000_000_000n }))),
      { owner: true },
    );
    expect(results).toEqual(modes.map(() => undefined));
    return paths.map((path) => {
      const st = lstatSync(path);
      return { mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid };
    });
  }

  it.skipIf(process.geteuid!() !== 0)('as root, gives a file another owner, then exactly its mode, set-id bits included', async () => {
    const modes = [0o640, 0o4755, 0o2750, 0o600, 0o777];
    expect(await writeOwned(dir, modes, 65534, 65533)).toEqual(modes.map((mode) => ({ mode: mode.toString(8), uid: 65534, gid: 65533 })));
  });

  it.skipIf(process.geteuid!() !== 0)('as root, in a setgid directory, gives root’s files root’s group back with exactly their modes', async () => {
    const shared = join(dir, 'setgid');
    mkdirSync(shared);
    chownSync(shared, 0, 65533);
    chmodSync(shared, 0o2775);
    const modes = [0o640, 0o644, 0o600, 0o4755];
    expect(await writeOwned(shared, modes, 0, 0)).toEqual(modes.map((mode) => ({ mode: mode.toString(8), uid: 0, gid: 0 })));
  });
});
