import { createHash } from 'node:crypto';
import { type BigIntStats, lstatSync } from 'node:fs';
import { BkdrError, InterruptedError } from '../core/errors.js';
import { chunkStream } from '../repo/fastcdc.js';
import type { Repository } from '../repo/repository.js';
import type { SnapshotSummary } from '../repo/snapshot.js';
import type { TreeNode } from '../repo/tree-node.js';
import { ExcludeRules } from '../sources/files/exclude.js';
import { readFileSegments, readSmallFileSync } from '../sources/files/file-reader.js';
import { sameFileIdentity } from '../sources/files/identity.js';
import { readDirNames } from '../sources/files/read-dir.js';
import { statNode, statNodeSync } from '../sources/files/stat-node.js';

export interface ArchiveProgress {
  files: number;
  dirs: number;
  bytes: number;
  /** Bytes of files whose content was actually read (changed or new). */
  bytesRead: number;
  currentPath?: string;
}

/** What the archiver needs of a repository; a FanOutRepository writes to several at once. */
export type ArchiveTarget = Pick<Repository, 'chunker' | 'hasBlob' | 'saveBlob' | 'saveTree' | 'loadTree'>;

export interface ArchiveOptions {
  repo: ArchiveTarget;
  /** Absolute paths of the source. */
  paths: string[];
  exclude: string[];
  oneFileSystem: boolean;
  /** Root tree of the snapshot to compare with; files whose identity matches reuse its content. */
  parentTree?: string | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: ArchiveProgress) => void) | undefined;
  onWarning?: ((path: string, message: string) => void) | undefined;
}

/** What a snapshot's summary holds, less what only the repository knows after flushing. */
export interface ArchiveResult extends Omit<SnapshotSummary, 'storedBytes'> {
  tree: string;
  warnings: number;
}

const IGNORE_FILE = Buffer.from('.bkdrignore');
/** Files read concurrently within one directory: enough to keep both cores and the disk busy. */
const FILE_CONCURRENCY = 4;

/** Walks a files source into the repository, bottom-up, and returns the root tree id. */
export async function archiveFiles(opts: ArchiveOptions): Promise<ArchiveResult> {
  return new FilesArchiver(opts).run();
}

interface PathTrie {
  children: Map<string, PathTrie>;
  /** A configured path ends here: archive everything below. */
  selected: boolean;
}

class FilesArchiver {
  readonly #o: ArchiveOptions;
  readonly #stats: Omit<ArchiveResult, 'tree'> = {
    files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, dataBlobs: 0, newDataBlobs: 0, addedBytes: 0, warnings: 0,
  };
  #bytesRead = 0;
  #lastProgress = 0;

  constructor(opts: ArchiveOptions) {
    this.#o = opts;
  }

  async run(): Promise<ArchiveResult> {
    const trie = buildTrie(this.#o.paths);
    const rules = ExcludeRules.fromConfig(this.#o.paths, this.#o.exclude);
    let tree: string;
    if (trie.selected) {
      // The source is the whole file system: the root tree is the listing of '/' itself.
      const root = await statNode(Buffer.from('/'), Buffer.from('/'));
      this.#stats.dirs++;
      tree = await this.#archiveDir(Buffer.from('/'), this.#o.parentTree, rules, root.dev);
    } else {
      const parent = this.#o.parentTree ? await this.#loadParent(this.#o.parentTree) : undefined;
      tree = await this.#saveTrieLevel(trie, '/', parent, rules);
    }
    this.#emitProgress(true);
    return { tree, ...this.#stats };
  }

  /** Directories above the configured paths are recorded with their own metadata, content limited to the path. */
  async #saveTrieLevel(trie: PathTrie, dir: string, parent: Map<string, TreeNode> | undefined, rules: ExcludeRules): Promise<string> {
    const nodes: TreeNode[] = [];
    for (const [name, child] of [...trie.children].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const pathBuf = Buffer.from(path);
      const previous = parent?.get(Buffer.from(name).toString('hex'));
      let node: TreeNode;
      try {
        node = await statNode(pathBuf, Buffer.from(name));
      } catch (err) {
        this.#warn(path, err);
        continue;
      }
      if (child.selected) {
        const archived = await this.#archiveEntry(pathBuf, node, previous, rules, node.dev);
        if (archived) nodes.push(archived);
      } else if (node.type === 'dir') {
        const subParent = previous?.subtree ? await this.#loadParent(previous.subtree) : undefined;
        node.subtree = await this.#saveTrieLevel(child, path, subParent, rules);
        nodes.push(node);
      } else {
        this.#warn(path, new Error('not a directory, but configured paths lie below it'));
      }
    }
    return this.#o.repo.saveTree(nodes);
  }

  async #archiveEntry(path: Buffer, node: TreeNode, previous: TreeNode | undefined, rules: ExcludeRules, rootDev: bigint): Promise<TreeNode | undefined> {
    this.#checkAborted();
    if (node.type === 'dir') {
      this.#stats.dirs++;
      if (this.#o.oneFileSystem && node.dev !== rootDev) {
        // A mount point: keep the directory itself, not the other file system's content (like restic -x).
        node.subtree = await this.#o.repo.saveTree([]);
        return node;
      }
      node.subtree = await this.#archiveDir(path, previous?.type === 'dir' ? previous.subtree : undefined, rules, rootDev);
      return node;
    }
    if (node.type === 'file') {
      await this.#archiveFile(path, node, previous);
      return node;
    }
    this.#stats.files++;
    return node;
  }

  async #archiveDir(dir: Buffer, parentSubtree: string | undefined, inherited: ExcludeRules, rootDev: bigint): Promise<string> {
    let names: Buffer[];
    try {
      names = await readDirNames(dir);
    } catch (err) {
      this.#warn(dir.toString(), err);
      return this.#o.repo.saveTree([]);
    }
    let rules = inherited;
    if (names.some((n) => n.equals(IGNORE_FILE))) {
      try {
        const { readFile } = await import('node:fs/promises');
        rules = inherited.withIgnoreFile(dir, await readFile(joinPath(dir, IGNORE_FILE), 'utf8'));
      } catch (err) {
        this.#warn(joinPath(dir, IGNORE_FILE).toString(), err);
      }
    }
    const parent = parentSubtree ? await this.#loadParent(parentSubtree) : undefined;

    const nodes: (TreeNode | undefined)[] = new Array(names.length);
    const dirs: number[] = [];
    let next = 0;
    // Files are archived with bounded concurrency; subdirectories one at a time afterwards, so
    // memory stays proportional to the depth of the tree, not its width.
    const worker = async () => {
      while (next < names.length) {
        const i = next++;
        const name = names[i]!;
        const path = joinPath(dir, name);
        let node: TreeNode;
        try {
          node = statNodeSync(path, name);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#warn(path.toString(), err);
          continue;
        }
        if (rules.excludes(path, node.type === 'dir')) continue;
        if (node.type === 'dir') {
          nodes[i] = node;
          dirs.push(i);
          continue;
        }
        nodes[i] = await this.#archiveEntry(path, node, parent?.get(name.toString('hex')), rules, rootDev);
      }
    };
    await Promise.all(Array.from({ length: Math.min(FILE_CONCURRENCY, names.length) }, worker));
    for (const i of dirs.sort((a, b) => a - b)) {
      const node = nodes[i]!;
      nodes[i] = await this.#archiveEntry(joinPath(dir, node.name), node, parent?.get(node.name.toString('hex')), rules, rootDev);
    }
    return this.#o.repo.saveTree(nodes.filter((n): n is TreeNode => n !== undefined));
  }

  async #archiveFile(path: Buffer, node: TreeNode, previous: TreeNode | undefined): Promise<void> {
    const repo = this.#o.repo;
    this.#stats.files++;
    this.#stats.bytes += node.size ?? 0;
    if (previous?.type === 'file' && previous.content && sameFileIdentity(previous, node) && previous.content.every((id) => repo.hasBlob(id))) {
      node.content = previous.content;
      this.#stats.unchangedFiles++;
      this.#stats.dataBlobs += previous.content.length;
      this.#emitProgress();
      return;
    }
    if (previous) this.#stats.changedFiles++;
    else this.#stats.newFiles++;

    const content: string[] = [];
    const saveChunk = async (chunk: Buffer) => {
      this.#checkAborted();
      const id = createHash('sha256').update(chunk).digest('hex');
      content.push(id);
      this.#stats.dataBlobs++;
      this.#bytesRead += chunk.length;
      if (!repo.hasBlob(id)) {
        const saved = await repo.saveBlob('data', id, chunk);
        if (saved.stored) {
          this.#stats.newDataBlobs++;
          this.#stats.addedBytes += saved.storedSize;
        }
      }
      this.#emitProgress();
    };
    try {
      const size = node.size ?? 0;
      // Below the chunker's minimum a file is one chunk: read it whole, without the stream machinery.
      const whole = size < repo.chunker().params.minSize ? readSmallFileSync(path, size) : undefined;
      if (whole) {
        if (whole.length > 0) await saveChunk(whole);
      } else {
        for await (const chunk of chunkStream(dataOf(path, size), repo.chunker())) await saveChunk(chunk);
      }
    } catch (err) {
      // Only reading the source is the file's problem; a destination that fails (full, gone) fails the run.
      if (err instanceof BkdrError) throw err;
      this.#warn(path.toString(), err);
      content.length = 0;
      node.size = 0;
    }
    node.content = content;
    const after = lstatSilently(path);
    if (after && (after.mtimeNs !== node.mtimeNs || after.size !== BigInt(node.size ?? 0))) {
      this.#o.onWarning?.(path.toString(), 'file changed while it was read; the snapshot holds what was read');
    }
  }

  async #loadParent(treeId: string): Promise<Map<string, TreeNode> | undefined> {
    try {
      const nodes = await this.#o.repo.loadTree(treeId);
      return new Map(nodes.map((n) => [n.name.toString('hex'), n]));
    } catch {
      // A parent we cannot read only costs speed: everything is read afresh.
      return undefined;
    }
  }

  #checkAborted(): void {
    if (this.#o.signal?.aborted) throw new InterruptedError('backup interrupted');
  }

  #warn(path: string, err: unknown): void {
    this.#stats.warnings++;
    const e = err as NodeJS.ErrnoException;
    this.#o.onWarning?.(path, e.code ? `${e.code}: ${e.message}` : String(e.message ?? err));
  }

  #emitProgress(force = false): void {
    if (!this.#o.onProgress) return;
    const now = Date.now();
    if (!force && now - this.#lastProgress < 200) return;
    this.#lastProgress = now;
    this.#o.onProgress({ files: this.#stats.files, dirs: this.#stats.dirs, bytes: this.#stats.bytes, bytesRead: this.#bytesRead });
  }
}

const MAX_READ = 8 * 1024 * 1024;

async function* dataOf(path: Buffer, size: number): AsyncGenerator<Buffer> {
  // Holes are read as zeros: content-defined chunking turns a run of zeros into one
  // repeated blob, and the restorer recreates the holes of files marked sparse.
  // A small file gets a small buffer: allocating 8 MiB per file would dominate many-small-file trees.
  const bufferSize = Math.min(MAX_READ, Math.max(64 * 1024, size + 1));
  for await (const segment of readFileSegments(path, { sparse: false, bufferSize })) {
    if ('data' in segment) yield segment.data;
  }
}

function joinPath(dir: Buffer, name: Buffer): Buffer {
  return dir.length === 1 && dir[0] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, Buffer.from('/'), name]);
}

function buildTrie(paths: string[]): PathTrie {
  const root: PathTrie = { children: new Map(), selected: false };
  for (const p of paths) {
    let node = root;
    for (const part of p.split('/').filter((s) => s.length > 0)) {
      if (node.selected) break;
      let child = node.children.get(part);
      if (!child) {
        child = { children: new Map(), selected: false };
        node.children.set(part, child);
      }
      node = child;
    }
    node.selected = true;
    node.children.clear();
  }
  return root;
}

function lstatSilently(path: Buffer): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}
