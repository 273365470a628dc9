import type { Repository } from '../repo/repository.js';
import { deserializeTreeExcept, deserializeTreeTexts } from '../repo/tree.js';
import type { TreeNode } from '../repo/tree-node.js';

/** Plaintext of parent trees read ahead and not yet walked, at most: bounds memory in wide trees. */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** Trees offered to one read at most: the budget ends a read long before, unless the trees are tiny. */
const READ_AHEAD_TREES = 1024;
/**
 * Of the budget, what a read ahead started in the background leaves for one the walk waits
 * for (the subdirectories of the directory it has just entered), which then goes beside it.
 */
const WALK_READ_RESERVE = 512 * 1024;

/** A read ahead under way: the trees it was offered, and the plaintext it may bring at most. */
interface ReadAhead {
  ids: ReadonlySet<string>;
  budget: number;
  /** Started for a tree the walk waits for. */
  forWalk: boolean;
  done: Promise<void>;
}

/** A parent snapshot's directory, as the walk compares a directory with it. */
export interface ParentListing {
  /** Its entries, in the tree's order: all of them, or all but those load was told are stored as they are (`stored`). */
  readonly nodes: readonly TreeNode[];
  /** Where each of `nodes` is in the tree, when not all are there. */
  readonly positions: readonly number[] | undefined;
  /** The text each entry of the tree is stored as, when its tree could be cut node by node (deserializeTreeTexts). */
  readonly texts: readonly string[] | undefined;
  /** `nodes` by name (hex). */
  readonly byName: Map<string, TreeNode>;
  /** Whether the nodes load was told are stored as they are were left out of `nodes` (else all are there). */
  readonly storedLeftOut: boolean;
}

/** Nodes of a tree, by position, that the walk knows to be stored as they are, of the tree's `count`: load need not parse them. */
export interface StoredNodes {
  positions: ReadonlySet<number>;
  count: number;
}

/** One directory's subdirectory trees, in the order its walk asks for them; `next` is the first not read yet. */
interface Siblings {
  ids: string[];
  next: number;
}

/**
 * The parent snapshot's trees, as the walk of a new backup reaches each directory. When
 * a directory's tree is read, its subdirectories' trees are read ahead together (a
 * request per pack span instead of one each, records opened in batches), so the walk
 * finds them waiting: read one by one, the 100 trees of a directory of 100
 * subdirectories were a tenth of an incremental backup's main thread.
 *
 * Reading ahead goes on as the walk takes what was read, within the budget. It used to
 * end with the first read: when a directory's subdirectories held more than the budget,
 * the walk read the rest one by one (72 of the bench's 100, a request each). The walk
 * says which trees it will not ask for (passOver: directories gone or excluded since):
 * those are not read ahead from then on, and not kept (a read under way when they were
 * passed over still brings them, and they are dropped as it lands).
 */
export class ParentTrees {
  readonly #repo: Pick<Repository, 'loadBlob' | 'loadTrees'>;
  /**
   * Trees read ahead, as plaintext: parsed only when the walk gets there. Those it neither
   * takes nor passes over (below a directory whose walk failed) stay, within the budget,
   * till the backup ends.
   */
  readonly #ahead = new Map<string, Buffer>();
  #aheadBytes = 0;
  /**
   * Subdirectory lists, the latest on top: the walk goes depth first, so the deepest
   * directory's subdirectories come first, an outer one's rest after. A list is dropped
   * once all of it was read or stepped over and reading ahead gets to it.
   */
  readonly #stack: Siblings[] = [];
  /** Where each listed tree is (the latest list naming it), until its list is dropped. */
  readonly #listed = new Map<string, { siblings: Siblings; index: number }>();
  /**
   * Trees not to read ahead: passed over by the walk, or read alone already. By id, so an
   * identical directory elsewhere (empty ones share their tree) is read alone too.
   */
  readonly #skip = new Set<string>();
  /** At most two: one in the background, and one the walk waits for beside it. */
  readonly #reading = new Set<ReadAhead>();

  constructor(repo: Pick<Repository, 'loadBlob' | 'loadTrees'>) {
    this.#repo = repo;
  }

  /**
   * A tree's listing; undefined when it cannot be read, which only costs speed. With
   * `stored`, those nodes are left out when the tree cuts into that many (see ParentListing):
   * in an incremental backup, most of the nodes of the directories that changed.
   */
  async load(id: string, stored?: StoredNodes): Promise<ParentListing | undefined> {
    let listing: Omit<ParentListing, 'byName'>;
    try {
      let data = await this.#readAheadHolding(id);
      if (!data) {
        this.#skip.add(id);
        data = await this.#repo.loadBlob(id);
      }
      const partly = stored && stored.positions.size > 0 ? deserializeTreeExcept(data, id, stored.positions, stored.count) : undefined;
      listing = partly ? { ...partly, storedLeftOut: true } : { ...deserializeTreeTexts(data, id), positions: undefined, storedLeftOut: false };
    } catch {
      return undefined;
    }
    // Subdirectories are never left out: their subtrees are read ahead from here.
    this.#list(listing.nodes);
    this.#readAhead();
    return { ...listing, byName: new Map(listing.nodes.map((n) => [n.name.toString('hex'), n])) };
  }

  /** Trees the walk will not ask for (their directories are gone, excluded or not entered): not read ahead, not kept. */
  passOver(ids: Iterable<string>): void {
    for (const id of ids) {
      this.#skip.add(id);
      this.#take(id);
    }
  }

  /**
   * The tree's plaintext when a read ahead has it or can bring it; undefined: read it alone.
   * A read under way without it is not waited for: a read from it goes beside that one.
   * Once reads of cached packs were done on the walk's thread (storage/cached-read.ts), the
   * walk reached a directory's subdirectories while the background read of the next wide
   * directories was still under way, and read each of them alone.
   */
  async #readAheadHolding(id: string): Promise<Buffer | undefined> {
    // A second round when the read under way stopped short of it (the budget), from it.
    for (let round = 0; round < 2; round++) {
      const data = this.#take(id);
      if (data) return data;
      const read = this.#readingOf(id) ?? (this.#readAhead(id) ? this.#readingOf(id) : undefined);
      if (!read) return undefined;
      await read.done;
    }
    return this.#take(id);
  }

  #readingOf(id: string): ReadAhead | undefined {
    for (const read of this.#reading) if (read.ids.has(id)) return read;
    return undefined;
  }

  #take(id: string): Buffer | undefined {
    const data = this.#ahead.get(id);
    if (!data) return undefined;
    this.#ahead.delete(id);
    this.#aheadBytes -= data.length;
    return data;
  }

  /** A directory with one subdirectory gains nothing from reading ahead. */
  #list(nodes: readonly TreeNode[]): void {
    const ids = [...new Set(nodes.flatMap((n) => (n.type === 'dir' && n.subtree ? [n.subtree] : [])))];
    if (ids.length < 2) return;
    const siblings: Siblings = { ids, next: 0 };
    this.#stack.push(siblings);
    for (const [index, id] of ids.entries()) this.#listed.set(id, { siblings, index });
  }

  /**
   * Starts the next read ahead when the budget has room for it: in the background, when no
   * read is under way; for the walk (`from`: the tree it waits for, read first), when none
   * is under way for it. A directory's subdirectories are walked in the order listed, so
   * its siblings listed before `from` will not be asked for. The plaintext held and the
   * budgets of the reads under way stay within READ_AHEAD_BYTES. Returns whether a read
   * started (with `from` in it, when given).
   */
  #readAhead(from?: string): boolean {
    let budget = READ_AHEAD_BYTES - this.#aheadBytes;
    for (const read of this.#reading) {
      if (from === undefined || read.forWalk) return false;
      budget -= read.budget;
    }
    if (from === undefined) budget -= WALK_READ_RESERVE;
    if (budget <= 0) return false;
    let siblings: Siblings | undefined;
    if (from !== undefined) {
      const at = this.#listed.get(from);
      if (!at || at.index < at.siblings.next || this.#skip.has(from)) return false;
      at.siblings.next = at.index;
      siblings = at.siblings;
    } else if (this.#aheadBytes < READ_AHEAD_BYTES / 2) {
      siblings = this.#topUnread();
    }
    // Lists whose trees are all held or skipped are stepped past, a loop not a recursion: thousands may pile up.
    while (siblings) {
      const { ids, at, end } = this.#toRead(siblings);
      if (ids.length > 0) {
        this.#read(siblings, ids, at, end, budget, from !== undefined);
        return true;
      }
      siblings.next = end;
      siblings = from === undefined ? this.#topUnread() : undefined;
    }
    return false;
  }

  /** The list's next trees to read (held and skipped ones stepped over), where each is in the list, and where the scan ended. */
  #toRead(siblings: Siblings): { ids: string[]; at: number[]; end: number } {
    const ids: string[] = [];
    const at: number[] = [];
    let end = siblings.next;
    for (; end < siblings.ids.length && ids.length < READ_AHEAD_TREES; end++) {
      const id = siblings.ids[end]!;
      if (this.#skip.has(id) || this.#ahead.has(id)) continue;
      ids.push(id);
      at.push(end);
    }
    return { ids, at, end };
  }

  #read(siblings: Siblings, ids: string[], at: number[], end: number, budget: number, forWalk: boolean): void {
    const done = this.#repo
      .loadTrees(ids, budget)
      .then(
        ({ trees, taken }) => {
          // None taken: the first is larger than the room left; it is read alone when the walk asks.
          siblings.next = taken >= ids.length ? end : (at[Math.max(taken, 1)] ?? end);
          for (const [id, data] of trees) {
            // Passed over while it was read, or held already (an identical directory's).
            if (this.#skip.has(id) || this.#ahead.has(id)) continue;
            this.#ahead.set(id, data);
            this.#aheadBytes += data.length;
          }
        },
        // Each is read alone then, and says what is wrong.
        () => {
          siblings.next = end;
        },
      )
      .finally(() => this.#reading.delete(read));
    const read: ReadAhead = { ids: new Set(ids), budget, forWalk, done };
    this.#reading.add(read);
  }

  /** The latest list with trees still to read; spent lists are dropped. */
  #topUnread(): Siblings | undefined {
    for (;;) {
      const top = this.#stack.at(-1);
      if (!top || top.next < top.ids.length) return top;
      this.#stack.pop();
      for (const id of top.ids) if (this.#listed.get(id)?.siblings === top) this.#listed.delete(id);
    }
  }
}
