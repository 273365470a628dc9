import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExcludeRules } from '../../src/sources/files/exclude.js';
import { statNode } from '../../src/sources/files/stat-node.js';
import { type ListedDir, WalkAhead } from '../../src/sources/files/walk-ahead.js';
import { makeTempDir } from '../helpers/cli.js';

describe('WalkAhead', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-walk-ahead-');
    // src: a/ (300 files: two stat windows), b/c/, a symlink to a/ (not followed), a file.
    src = join(tmp.path, 'src');
    mkdirSync(join(src, 'a'), { recursive: true });
    mkdirSync(join(src, 'b', 'c'), { recursive: true });
    for (let i = 0; i < 300; i++) writeFileSync(join(src, 'a', `f${String(i).padStart(3, '0')}`), `${i}`);
    writeFileSync(join(src, 'b', 'c', 'deep'), 'deep');
    symlinkSync(join(src, 'a'), join(src, 'link'));
    writeFileSync(join(src, 'top'), 'top');
  });
  afterEach(() => tmp.cleanup());

  const names = (listed: ListedDir | undefined) => listed?.names.map((n) => n.toString());
  const take = (ahead: WalkAhead, ...path: string[]) => ahead.take(Buffer.from(join(src, ...path)));

  it('lists every directory below the source with its entries stat-ed as the archiver would, each taken once', async () => {
    const ahead = WalkAhead.start([src], { rules: ExcludeRules.fromConfig([src], []), oneFileSystem: false });
    await ahead.settled();
    const root = await take(ahead);
    expect(names(root)).toEqual(['a', 'b', 'link', 'top']);
    expect(root!.nodes.map((n) => (n instanceof Error ? 'error' : n.type))).toEqual(['dir', 'dir', 'symlink', 'file']);
    const a = await take(ahead, 'a');
    expect(a!.names).toHaveLength(300);
    expect(names(a)).toEqual([...names(a)!].sort());
    // The last entry comes from the second stat window, and is what statNode says of it.
    const last = join(src, 'a', 'f299');
    expect(a!.nodes[299]).toEqual(await statNode(Buffer.from(last), Buffer.from('f299')));
    expect(names(await take(ahead, 'b', 'c'))).toEqual(['deep']);
    expect(names(await take(ahead, 'b'))).toEqual(['c']);
    // Taken once; and a symlinked directory is not entered.
    expect(take(ahead, 'a')).toBeUndefined();
    expect(take(ahead, 'link')).toBeUndefined();
  });

  it("stays out of what the config's excludes leave out", async () => {
    const ahead = WalkAhead.start([src], { rules: ExcludeRules.fromConfig([src], ['**/b']), oneFileSystem: false });
    await ahead.settled();
    expect(names(await take(ahead))).toEqual(['a', 'b', 'link', 'top']);
    expect(take(ahead, 'b')).toBeUndefined();
    expect(take(ahead, 'b', 'c')).toBeUndefined();
    expect(await take(ahead, 'a')).toBeDefined();
  });

  it('lists no directory that would pass its bound of entries, nor any after it, nor anything once stopped', async () => {
    const bounded = WalkAhead.start([src], { rules: ExcludeRules.fromConfig([src], []), oneFileSystem: false, maxEntries: 304 });
    await bounded.settled();
    // The source's 4 entries and a/'s 300 fill the bound: b/ (1 more) is left to the archiver.
    expect(await take(bounded)).toBeDefined();
    expect(await take(bounded, 'a')).toBeDefined();
    expect(take(bounded, 'b')).toBeUndefined();

    // a/ alone would pass the bound: it is not listed, and the walk ends there.
    const small = WalkAhead.start([src], { rules: ExcludeRules.fromConfig([src], []), oneFileSystem: false, maxEntries: 100 });
    await small.settled();
    expect(await take(small)).toBeDefined();
    expect(take(small, 'a')).toBeUndefined();
    expect(take(small, 'b')).toBeUndefined();

    const stopped = WalkAhead.start([src], { rules: ExcludeRules.fromConfig([src], []), oneFileSystem: false });
    stopped.stop();
    await stopped.settled();
    expect(take(stopped)).toBeUndefined();
  });

  it('leaves a source that is missing or not a directory to the archiver', async () => {
    const ahead = WalkAhead.start([join(src, 'missing'), join(src, 'top')], { rules: ExcludeRules.fromConfig([src], []), oneFileSystem: false });
    await ahead.settled();
    expect(take(ahead, 'missing')).toBeUndefined();
    expect(take(ahead, 'top')).toBeUndefined();
  });

  it('drops what was not taken when closed', async () => {
    const ahead = WalkAhead.start([src], { rules: ExcludeRules.fromConfig([src], []), oneFileSystem: false });
    await ahead.settled();
    expect(await take(ahead)).toBeDefined();
    ahead.close();
    expect(take(ahead, 'a')).toBeUndefined();
  });
});
