import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ArchiveTarget, archiveFiles } from '../../src/backup/files-archiver.js';
import { Repository } from '../../src/repo/repository.js';
import type { TreeNode } from '../../src/repo/tree-node.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';

describe('archiveFiles', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-archiver-');
  });
  afterEach(() => tmp.cleanup());

  it("keeps the parent snapshot's tree of a directory nothing changed in, and writes the listing of one that changed", async () => {
    const src = join(tmp.path, 'src');
    for (const [dir, file] of [['a', 'f1'], ['b', 'g1'], ['c', 'h1']] as const) {
      await mkdir(join(src, dir), { recursive: true });
      await writeFile(join(src, dir, file), `content of ${file}`);
    }
    const repo = await Repository.create(createLocalAdapter({ name: 'dest', path: join(tmp.path, 'repo') }), { password: 'pw' });
    // The real repository, with the listings it is asked to save written down.
    let saved: string[][] = [];
    const target: ArchiveTarget = {
      chunker: () => repo.chunker(),
      hasBlob: (id) => repo.hasBlob(id),
      saveBlob: (...args) => repo.saveBlob(...args),
      saveBlobs: (...args) => repo.saveBlobs(...args),
      saveTree: (nodes: TreeNode[]) => {
        saved.push(nodes.map((n) => n.name.toString()).sort());
        return repo.saveTree(nodes);
      },
      loadTree: (id) => repo.loadTree(id),
      loadTrees: (...args) => repo.loadTrees(...args),
    };
    const archive = async (parentTree?: string) => {
      saved = [];
      const { tree } = await archiveFiles({ repo: target, paths: [src], exclude: [], oneFileSystem: false, parentTree });
      await repo.flush();
      return tree;
    };
    // Subdirectories are walked side by side: their listings come in any order.
    const leafListings = () => saved.filter((names) => names.some((n) => /^[fgh]1$/.test(n))).sort((x, y) => x.join().localeCompare(y.join()));

    const first = await archive();
    expect(leafListings()).toEqual([['f1'], ['g1'], ['h1']]);
    // Nothing changed: no listing below the source is serialized again (its own directory's
    // is, as the listing of its parent, which holds the repository and so changed).
    const second = await archive(first);
    expect(leafListings()).toEqual([]);
    expect(saved).not.toContainEqual(['a', 'b', 'c']);

    await chmod(join(src, 'a', 'f1'), 0o600);
    const third = await archive(second);
    expect(leafListings()).toEqual([['f1']]);

    // An entry newly excluded changes the listing, though no file changed.
    await writeFile(join(src, 'c', '.bkdrignore'), 'h1\n');
    await archive(third);
    expect(leafListings().length).toBe(0);
    expect(saved).toContainEqual(['.bkdrignore']);
  });
});
