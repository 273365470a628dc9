import type { TreeNode } from '../../repo/tree-node.js';
import type { ExcludeRules } from './exclude.js';
import { readDirNames } from './read-dir.js';
import { statNode, statNodes } from './stat-node.js';

/** A directory as the walk ahead found it: its names, sorted, and per name its node or its lstat's error. */
export interface ListedDir {
  names: Buffer[];
  nodes: (TreeNode | NodeJS.ErrnoException)[];
}

export interface WalkAheadOptions {
  rules: ExcludeRules;
  oneFileSystem: boolean;
  /** Entries listed at most: what is listed is held until the archiver takes it. */
  maxEntries?: number;
}

/** Entries stat'ed in one trip to the pool, as the archiver's walk does. */
const STAT_WINDOW = 256;
const DEFAULT_MAX_ENTRIES = 50_000;

/**
 * Lists and stats a files source before its backup starts, for the archiver to take. A
 * backup first derives the repository's key (scrypt: 0.2 s on the pool) and reads the
 * parent snapshot; the main thread is idle meanwhile, and the walk of a source of 20 000
 * files costs about as much. The archiver stops this walk when it starts and lists the
 * rest itself.
 *
 * The order is the archiver's: depth first, names sorted bytewise, so what it reaches
 * first is listed first. The config's excludes and oneFileSystem keep it out of what the
 * archiver would not enter; a `.bkdrignore` is left to the archiver, so a directory one
 * excludes may be listed for nothing, within the bound.
 */
export class WalkAhead {
  readonly #listed = new Map<string, Promise<ListedDir>>();
  readonly #o: WalkAheadOptions;
  #entries = 0;
  #stopped = false;
  #done: Promise<void> = Promise.resolve();

  private constructor(opts: WalkAheadOptions) {
    this.#o = opts;
  }

  static start(paths: readonly string[], opts: WalkAheadOptions): WalkAhead {
    const ahead = new WalkAhead(opts);
    ahead.#done = ahead.#walkRoots(paths).catch(() => undefined);
    return ahead;
  }

  /** The listing of `dir` if the walk got to it (it may still be under way), else undefined; each is taken once. */
  take(dir: Buffer): Promise<ListedDir> | undefined {
    const key = dir.toString('latin1');
    const listed = this.#listed.get(key);
    this.#listed.delete(key);
    return listed;
  }

  /** No directory is started after this; one under way is finished for whoever takes it. */
  stop(): void {
    this.#stopped = true;
  }

  /** Settles once the walk ahead has ended: done, stopped or at its bound (it never rejects). */
  settled(): Promise<void> {
    return this.#done;
  }

  get #full(): boolean {
    return this.#stopped || this.#entries >= (this.#o.maxEntries ?? DEFAULT_MAX_ENTRIES);
  }

  async #walkRoots(paths: readonly string[]): Promise<void> {
    for (const path of [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
      if (this.#full) return;
      const root = Buffer.from(path);
      try {
        const node = await statNode(root, root);
        if (node.type === 'dir') await this.#walk(root, node.dev);
      } catch {
        // The archiver meets the same error on its own and tells it.
      }
    }
  }

  async #walk(dir: Buffer, rootDev: bigint): Promise<void> {
    if (this.#full || this.#listed.has(dir.toString('latin1'))) return;
    const listing = this.#list(dir);
    this.#listed.set(dir.toString('latin1'), listing);
    let listed: ListedDir;
    try {
      listed = await listing;
    } catch {
      return;
    }
    for (const [i, node] of listed.nodes.entries()) {
      if (node instanceof Error || node.type !== 'dir') continue;
      if (this.#o.oneFileSystem && node.dev !== rootDev) continue;
      const path = joinPath(dir, listed.names[i]!);
      if (this.#o.rules.excludes(path, true)) continue;
      await this.#walk(path, rootDev);
      if (this.#full) return;
    }
  }

  async #list(dir: Buffer): Promise<ListedDir> {
    const names = await readDirNames(dir);
    this.#entries += names.length;
    const windows: Promise<(TreeNode | NodeJS.ErrnoException)[]>[] = [];
    // All of a directory's windows at once: they run on the pool's threads side by side.
    for (let from = 0; from < names.length; from += STAT_WINDOW) {
      const slice = names.slice(from, from + STAT_WINDOW);
      windows.push(statNodes(slice.map((name) => joinPath(dir, name)), slice));
    }
    return { names, nodes: (await Promise.all(windows)).flat() };
  }
}

export function joinPath(dir: Buffer, name: Buffer): Buffer {
  return dir.length === 1 && dir[0] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, Buffer.from('/'), name]);
}
