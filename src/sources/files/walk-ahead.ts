import type { TreeNode } from '../../repo/tree-node.js';
import type { ExcludeRules } from './exclude.js';
import { joinPath, readDirNames } from './read-dir.js';
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
  /** When the walk began: a backup that takes its listings is of the source as it was from then on. */
  readonly startedAt = new Date();
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

  /** Stops, and drops what was not taken: once its archiver is done, a listing would only be out of date. */
  close(): void {
    this.stop();
    this.#listed.clear();
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
        if (node.type === 'dir') await this.#walk(root, node.dev, new Set());
      } catch {
        // The archiver meets the same error on its own and tells it.
      }
    }
  }

  async #walk(dir: Buffer, rootDev: bigint, seen: Set<string>): Promise<void> {
    const key = dir.toString('latin1');
    if (this.#full || seen.has(key)) return;
    seen.add(key);
    let names: Buffer[];
    try {
      names = await readDirNames(dir);
    } catch {
      return;
    }
    // A directory that would pass the bound is left to the archiver whole, which stats it a window at a time.
    if (this.#stopped || this.#entries + names.length > (this.#o.maxEntries ?? DEFAULT_MAX_ENTRIES)) {
      this.#stopped = true;
      return;
    }
    this.#entries += names.length;
    const listing = this.#stat(dir, names);
    this.#listed.set(key, listing);
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
      await this.#walk(path, rootDev, seen);
      if (this.#full) return;
    }
  }

  /**
   * The entries' stats, a window at a time with the next one in flight: all of a large
   * directory's windows at once would queue ahead of the key's derivation on the pool,
   * and delay what this walk is meant to overlap.
   */
  async #stat(dir: Buffer, names: Buffer[]): Promise<ListedDir> {
    if (names.length === 0) return { names, nodes: [] };
    const window = (from: number) => {
      const slice = names.slice(from, from + STAT_WINDOW);
      const stats = statNodes(slice.map((name) => joinPath(dir, name)), slice);
      // One never awaited (an earlier window failed) must not be an unhandled rejection.
      stats.catch(() => undefined);
      return stats;
    };
    const nodes: (TreeNode | NodeJS.ErrnoException)[] = [];
    let next = window(0);
    for (let from = 0; from < names.length; from += STAT_WINDOW) {
      const current = await next;
      if (from + STAT_WINDOW < names.length) next = window(from + STAT_WINDOW);
      nodes.push(...current);
    }
    return { names, nodes };
  }
}
