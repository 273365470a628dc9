import { type BigIntStats, lstatSync } from 'node:fs';
import { BkdrError, InterruptedError } from '../core/errors.js';
import { trimMallocAfterFullGcs } from '../core/malloc-policy.js';
import { Slots } from '../core/slots.js';
import { readAndSealSmallFiles, readSmallFiles, type SealedSmallFileRead, sealedReadsBound, type SmallFileRead, smallReadsBound } from '../repo/blob-codec.js';
import { BACKUP_IDLE_DISCARD_MS, BufferPool } from '../repo/buffer-pool.js';
import type { Repository, SaveBlobResult } from '../repo/repository.js';
import type { SnapshotSummary } from '../repo/snapshot.js';
import type { TreeNode } from '../repo/tree-node.js';
import { parseStoredNode, sameStoredNode, storedContent } from '../repo/tree.js';
import { treesReadBack } from '../repo/trees-read-back.js';
import { type ContentResult, writeContent, writeSingleChunk } from './content-writer.js';
import type { DirCache, DirCacheEntry } from './dir-cache.js';
import { type ParentListing, ParentTrees, type StoredNodes } from './parent-trees.js';
import { type BatchTicket, SmallFileBatches } from './small-file-batches.js';
import { ExcludeRules, type OwnPaths } from '../sources/files/exclude.js';
import { withFileReader } from '../sources/files/file-reader.js';
import { sameFileIdentity } from '../sources/files/identity.js';
import { joinPath } from '../sources/files/read-dir.js';
import { type DirScan, ENTRY_DIGEST_BYTES, matchEntryDigests, scanDir, scanDirs } from '../sources/files/scan-dir.js';
import { nodeFromStats, statNode, statNodes, takeStats, xattrsPartly } from '../sources/files/stat-node.js';

export interface ArchiveProgress {
  files: number;
  dirs: number;
  bytes: number;
  /** Bytes of files whose content was actually read (changed or new). */
  bytesRead: number;
  currentPath?: string;
}

/** What the archiver needs of a repository; a FanOutRepository writes to several at once. */
export type ArchiveTarget = Pick<Repository, 'chunker' | 'hasBlob' | 'saveBlob' | 'saveBlobs' | 'saveMadeBlobs' | 'saveTree' | 'loadBlob' | 'loadTrees'>;

export interface ArchiveOptions {
  repo: ArchiveTarget;
  /** Absolute paths of the source. */
  paths: string[];
  exclude: string[];
  /** bkdr's own files (repositories, the catalog): never archived, wherever they sit under `paths`. */
  own?: OwnPaths | undefined;
  oneFileSystem: boolean;
  /** Record entries' access times as they are; by default their mtimes stand in (FilesArchiver.#recorded). */
  withAtime?: boolean | undefined;
  /** Root tree of the snapshot to compare with; files whose identity matches reuse its content. */
  parentTree?: string | undefined;
  /** Trees of directories whose listing is unchanged, taken without comparing it entry by entry; it keeps this walk's for the next. */
  dirCache?: DirCache | undefined;
  /**
   * Read back the trees the cache gave (beside the walk, as the parent's trees are read
   * without it) before they count among `reusedTrees`: the check after the backup takes
   * those as they are. Default true; false when nothing checks the backup after it.
   */
  readBackCachedTrees?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: ArchiveProgress) => void) | undefined;
  onWarning?: ((path: string, message: string) => void) | undefined;
}

/** What a snapshot's summary holds, less what only the repository knows after flushing. */
export interface ArchiveResult extends Omit<SnapshotSummary, 'storedBytes'> {
  tree: string;
  warnings: number;
  /** Trees taken whole from the parent snapshot (see StructureCheckOptions.reusedTrees). */
  reusedTrees?: ReadonlySet<string>;
  /** Trees this walk wrote, each with every tree below it here or in reusedTrees (see StructureCheckOptions.writtenTrees). */
  writtenTrees?: ReadonlySet<string>;
}

const IGNORE_FILE = Buffer.from('.bkdrignore');
/**
 * Files archived at once, whatever directory they are in. The walk goes on while they
 * are read, so the main thread lists and stats the tree while the pool hashes and seals
 * large files; the limits bound both memory and how far the walk runs ahead.
 */
const SMALL_BATCHES_IN_FLIGHT = 4;
/**
 * Batches of up to this many files are read and sealed in one trip to the pool; larger
 * ones are read, then only the files whose blobs the repository lacks are sealed. An
 * incremental backup's batches hold the few changed files of a directory, and the second
 * trip cost more than sealing them; a first backup's are full, and about a quarter of a
 * package tree's small files turned out stored already (sealed for nothing in one trip).
 */
const SEALED_WITH_READ_UP_TO = 4;
const LARGE_FILES_IN_FLIGHT = 2;
/**
 * Of those, files of four reads or more: one at a time. Such a file holds three of the
 * chunker's read buffers (the one being cut, the next read, the batch being stored) for
 * most of its read. Two at once (the bench's dump and random file) raised a first
 * backup's peak RSS from 186 to 215 MiB, and were no faster (1.87 s both). Shorter files
 * still go two at a time: one by one, a tree of 0.5-4 MiB files backed up 16 % slower.
 */
const LONG_FILES_IN_FLIGHT = 1;
const LONG_FILE_BYTES = 16 * 1024 * 1024;
/** Small files (below the chunker's minimum, so one blob each) go to the pool in batches of this many or bytes. */
const SMALL_BATCH_FILES = 64;
const SMALL_BATCH_BYTES = 1024 * 1024;
/** Read buffers of small batches kept for the next batches: a fresh one per batch faulted in its pages on the pool. */
const REUSED_READ_BYTES = SMALL_BATCHES_IN_FLIGHT * 4 * 1024 * 1024;
/**
 * Subdirectories walked beside the main walk, across the whole tree. Each directory's
 * reads (its listing, its entries' stats, the parent snapshot's listing) are trips to
 * the pool; one directory at a time, the walk mostly waited on them. Four, not two: a
 * first backup of the bench's real tree took 0.21-0.3 s less (3 series of 6-8 alternating
 * pairs, each faster in nearly every pair), for 3-10 MiB more peak RSS; a no-op 40 ms less;
 * six walks were no faster than four, with more memory.
 */
const EXTRA_DIR_WALKS = 4;
/**
 * Directories walked whose files (or subdirectories) are still being stored, while the walk
 * goes on without them (#walkSubdirs). A walk that waited for the files of each directory it
 * listed left the pool without work while it did: on the bench's real tree, a first backup
 * took 10-13 % longer than with 16 aside (alternating runs); 4 and 8 gained less, and 64 no
 * more than 16, with 10 MiB more peak RSS (pending directories outlive young-generation
 * collections).
 */
const DIRS_ASIDE = 16;
/** Directories of more entries wait for their files in place: one aside holds its listing, and 16 of the largest would hold a lot. */
const ASIDE_ENTRIES = 4096;
/**
 * Directories of up to this many entries are listed and stat'ed in one trip to the pool
 * (scanDir), which also gives the digest the directory cache needs: a directory without one
 * is compared with its parent's listing entry by entry in every run, and so is each above
 * it. At 1,024, the five largest directories of the bench's real tree (1,265 to 5,464
 * entries) had none: a no-op backup of it took 8 % longer, with 19 MiB more RSS. Larger ones
 * are stat'ed in windows of STAT_WINDOW, the next window's while this one is handled: in one
 * trip, the walk (and the siblings scanned with it, #scanAhead) would wait for all of their
 * stats, and the trip would hold their results (144 bytes an entry) at once.
 */
export const SCAN_STAT_MAX = 16384;
/**
 * Subdirectories scanned ahead of their walks, in one trip to the pool (#scanAhead): a trip
 * per directory cost more than the scan of a small one. The next are scanned once the walk
 * is halfway through these: at most 1.5 times this many scans wait per directory being
 * walked, and a trip scans no more directories once it holds 8192 entries (scanDirs).
 */
const SCANS_AHEAD = 32;
/** Trees the directory cache gave, read back this many at a time, and within this much plaintext per read. */
const CACHED_READ_BATCH = 256;
const CACHED_READ_BYTES = 2 * 1024 * 1024;
const STAT_WINDOW = 256;

interface PendingFile {
  path: Buffer;
  node: TreeNode;
  previous: TreeNode | undefined;
}

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
    files: 0,
    dirs: 0,
    bytes: 0,
    newFiles: 0,
    changedFiles: 0,
    unchangedFiles: 0,
    dataBlobs: 0,
    newDataBlobs: 0,
    addedBytes: 0,
    warnings: 0,
  };
  readonly #reusedTrees = new Set<string>();
  readonly #writtenTrees = new Set<string>();
  /** Trees the directory cache gave, not yet read back (#readBackCached), and the reads under way. */
  #cachedToRead: string[] = [];
  #cachedReads: Promise<void> = Promise.resolve();
  /** A tree the cache gave did not read back intact: no tree counts as reused, so the check reads every one and names the damage. */
  #cachedDamaged = false;
  /** Subdirectories' scans taken ahead of their walks, with their siblings' (#scanAhead), by path (latin1). */
  readonly #scansAhead = new Map<string, Promise<DirScan | NodeJS.ErrnoException | undefined>>();
  /** Subdirectories whose trees the directory cache may keep (#archiveDir's `cacheable`). */
  readonly #cacheableDirs = new WeakSet<TreeNode>();
  /** Files gone between their stat and their read: left out of their directory, as if the stat had not found them. */
  readonly #vanished = new WeakSet<TreeNode>();
  #bytesRead = 0;
  #lastProgress = 0;
  readonly #smallFiles = new SmallFileBatches<PendingFile>({ inFlight: SMALL_BATCHES_IN_FLIGHT, files: SMALL_BATCH_FILES, bytes: SMALL_BATCH_BYTES }, (batch) =>
    this.#archiveSmallBatch(batch).catch(this.#keepFailure),
  );
  readonly #dirWalks = new Slots(EXTRA_DIR_WALKS);
  readonly #dirsAside = new Slots(DIRS_ASIDE);
  readonly #readBuffers = new BufferPool(REUSED_READ_BYTES, { discardIdleAfter: BACKUP_IDLE_DISCARD_MS });
  readonly #largeFiles = new Slots(LARGE_FILES_IN_FLIGHT);
  readonly #longFiles = new Slots(LONG_FILES_IN_FLIGHT);
  readonly #parentTrees: ParentTrees;
  /** The first error of a file or subdirectory archived in the background; it fails the walk at its next step. */
  #fileFailure: { error: unknown } | undefined;
  readonly #keepFailure = (error: unknown): void => {
    this.#fileFailure ??= { error };
  };

  constructor(opts: ArchiveOptions) {
    this.#o = opts;
    this.#parentTrees = new ParentTrees(opts.repo);
  }

  async run(): Promise<ArchiveResult> {
    const stopTrimming = trimMallocAfterFullGcs();
    try {
      return await this.#run();
    } finally {
      // A walk that failed leaves no read back under way (it never rejects).
      await this.#cachedReads;
      stopTrimming();
    }
  }

  async #run(): Promise<ArchiveResult> {
    const trie = buildTrie(this.#o.paths);
    const rules = ExcludeRules.fromConfig(this.#o.paths, this.#o.exclude, this.#o.own);
    let tree: string;
    if (trie.selected) {
      // The source is the whole file system: the root tree is the listing of '/' itself.
      const root = await statNode(Buffer.from('/'), Buffer.from('/'));
      this.#stats.dirs++;
      tree = (await this.#archiveDir(Buffer.from('/'), this.#o.parentTree, rules, root.dev)).tree;
    } else {
      const parent = this.#o.parentTree ? await this.#loadParent(this.#o.parentTree) : undefined;
      tree = await this.#saveTrieLevel(trie, '/', parent, rules);
    }
    this.#emitProgress(true);
    await this.#readBackCached();
    const checked = !this.#cachedDamaged;
    return { tree, ...this.#stats, reusedTrees: checked ? this.#reusedTrees : new Set(), writtenTrees: checked ? this.#writtenTrees : new Set() };
  }

  /** Directories above the configured paths are recorded with their own metadata, content limited to the path. */
  async #saveTrieLevel(trie: PathTrie, dir: string, parent: ParentListing | undefined, rules: ExcludeRules): Promise<string> {
    const nodes: TreeNode[] = [];
    for (const [name, child] of [...trie.children].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const pathBuf = Buffer.from(path);
      const previous = parent?.byName.get(Buffer.from(name).toString('hex'));
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
    return this.#saveTree(this.#recorded(nodes));
  }

  async #archiveEntry(path: Buffer, node: TreeNode, previous: TreeNode | undefined, rules: ExcludeRules, rootDev: bigint): Promise<TreeNode | undefined> {
    if (node.type === 'dir') {
      await this.#archiveSubdir(path, node, previous?.type === 'dir' ? previous.subtree : undefined, rules, rootDev);
      return node;
    }
    this.#checkAborted();
    if (node.type === 'file') {
      await this.#archiveFile(path, node, previous);
      return node;
    }
    this.#stats.files++;
    return node;
  }

  /** Archives a subdirectory into `node.subtree`; its node joins #cacheableDirs when the directory cache may keep its tree. */
  async #archiveSubdir(path: Buffer, node: TreeNode, parentSubtree: string | undefined, rules: ExcludeRules, rootDev: bigint, walked?: () => void): Promise<void> {
    this.#checkAborted();
    this.#stats.dirs++;
    if (this.#isMountPoint(node, rootDev)) {
      // Keep the directory itself, not the other file system's content (like restic -x).
      if (parentSubtree) this.#parentTrees.passOver([parentSubtree]);
      node.subtree = await this.#saveTree([]);
      this.#cacheableDirs.add(node);
      return;
    }
    const archived = await this.#archiveDir(path, parentSubtree, rules, rootDev, walked);
    node.subtree = archived.tree;
    if (archived.cacheable) this.#cacheableDirs.add(node);
  }

  /** A directory on another file system than the source's root, which oneFileSystem does not enter. */
  #isMountPoint(node: TreeNode, rootDev: bigint): boolean {
    return this.#o.oneFileSystem && node.dev !== rootDev;
  }

  /**
   * A directory's tree. `cacheable`: the directory cache keeps it (DirCache.keep) — the scan
   * had a digest and no entry failed, no file changed while it was read, and every
   * subdirectory is cacheable too — so a walk that finds the same listing may take it whole.
   */
  async #archiveDir(dir: Buffer, parentSubtree: string | undefined, inherited: ExcludeRules, rootDev: bigint, walked?: () => void): Promise<{ tree: string; cacheable: boolean }> {
    const cached = parentSubtree ? this.#o.dirCache?.lookup(dir, parentSubtree) : undefined;
    // The parent snapshot's listing is read while this directory is listed and stat'ed (it never
    // rejects); with a cache entry for its tree, only when the listing turns out to have changed.
    let parentLoad = parentSubtree && !cached ? this.#loadParent(parentSubtree) : undefined;
    let scan: DirScan;
    try {
      const key = dir.toString('latin1');
      const ahead = this.#scansAhead.get(key);
      if (ahead) this.#scansAhead.delete(key);
      // Not scanned ahead (past the trip's budget), or the trip failed as a whole: scanned alone, its failure its own.
      // Its lone subdirectory is scanned with it where no rule can exclude that one (DirScan.lone).
      const scanned = (await ahead?.catch(() => undefined)) ?? (await scanDir(dir, SCAN_STAT_MAX, !inherited.mayExcludeIn(dir)));
      if (scanned instanceof Error) throw scanned;
      scan = scanned;
    } catch (err) {
      this.#warn(dir.toString(), err);
      // None of its subdirectories is entered: their parent trees are not wanted.
      void parentLoad?.then((parent) => parent && this.#passOverGone(parent.byName, []));
      return { tree: await this.#saveTree([]), cacheable: false };
    }
    const { names, paths } = scan;
    let cacheable = scan.digest !== undefined;
    let rules = inherited;
    if (names.some((n) => n.equals(IGNORE_FILE))) {
      try {
        const { readFile } = await import('node:fs/promises');
        rules = inherited.withIgnoreFile(dir, await readFile(joinPath(dir, IGNORE_FILE), 'utf8'));
      } catch (err) {
        this.#warn(joinPath(dir, IGNORE_FILE).toString(), err);
        cacheable = false;
      }
    }
    let archivedSubdirs: Map<number, TreeNode> | undefined;
    let storedAt: Map<number, number> | undefined;
    if (cached && cacheable && scan.digest!.equals(cached.digest) && cached.rules === rules.key && this.#o.repo.hasBlob(cached.tree)) {
      const taken = await this.#takeCached(dir, scan, cached, rules, rootDev);
      if ('tree' in taken) return { tree: taken.tree, cacheable: true };
      archivedSubdirs = taken.walked;
    }
    if (cached) {
      // Changed since: compared with the parent's listing after all. Subdirectories already walked are not read ahead.
      if (archivedSubdirs) this.#parentTrees.passOver(cached.children);
      storedAt = storedEntries(scan, cached);
      parentLoad = this.#loadParent(cached.tree, storedAt && { positions: new Set(storedAt.values()), count: cached.nodeDigests.length / ENTRY_DIGEST_BYTES });
    }

    // Stat'ed with the listing (scanDir), or else window by window here.
    const scanned = scan.nodes;
    const windowSize = scanned ? Math.max(1, names.length) : STAT_WINDOW;
    const statWindow = (from: number) => {
      if (scanned) return Promise.resolve(from === 0 ? scanned : []);
      const window = from < paths.length ? statNodes(paths.slice(from, from + STAT_WINDOW), names.slice(from, from + STAT_WINDOW)) : Promise.resolve([]);
      // A window that is never awaited (the walk failed first) must not be an unhandled rejection.
      window.catch(() => undefined);
      return window;
    };
    let window = statWindow(0);
    const parentListing = await parentLoad;
    const parent = parentListing?.byName;
    // Entries stored as they are in the parent's tree, whose nodes it did not parse: their texts are written again.
    const stored = parentListing?.storedLeftOut ? new Map<TreeNode, string>() : undefined;

    const nodes: (TreeNode | undefined)[] = new Array(names.length);
    const dirs: number[] = [];
    const files: Promise<void>[] = [];
    let smallFiles: BatchTicket | undefined;
    let subdirsArchived: Promise<void> | undefined;
    let walkedAll = false;
    const minSize = this.#o.repo.chunker().params.minSize;
    const mayExclude = rules.mayExcludeIn(dir);
    let stats: Awaited<typeof window> = [];
    try {
      for (let i = 0; i < names.length; i++) {
        this.#checkAborted();
        this.#throwFileFailure();
        if (i % windowSize === 0) {
          stats = await window;
          window = statWindow(i + windowSize);
        }
        const name = names[i]!;
        const path = paths[i]!;
        const node = archivedSubdirs?.get(i) ?? stats[i % windowSize]!;
        if (node instanceof Error) {
          cacheable = false;
          if (node.code !== 'ENOENT') this.#warn(path.toString(), node);
          continue;
        }
        if (mayExclude && !archivedSubdirs?.has(i) && rules.excludes(path, node.type === 'dir')) continue;
        nodes[i] = node;
        const storedPosition = stored && storedAt?.get(i);
        const storedText = storedPosition === undefined ? undefined : parentListing!.texts![storedPosition];
        if (node.type === 'dir') dirs.push(i);
        else if (storedText !== undefined && this.#reuseStored(node, storedText, stored!)) continue;
        else if (node.type !== 'file') this.#stats.files++;
        else {
          // A file stored without content as this bkdr writes it: its parent node, left out of the listing, from its text.
          const previous = parent?.get(name.toString('hex')) ?? (storedText !== undefined ? parsedNodeOrNothing(storedText, cached!.tree) : undefined);
          // Checked before taking a slot: a walk waiting behind a large changed file would leave the main thread idle.
          if (this.#reuseUnchanged(node, previous)) continue;
          if ((node.size ?? 0) >= minSize) {
            files.push((await this.#startLargeFile(path, node, previous)).done);
            continue;
          }
          const ticket = this.#smallFiles.add({ path, node, previous }, node.size ?? 0);
          if (ticket !== smallFiles) files.push(ticket.done);
          smallFiles = ticket;
          if (ticket.full) await ticket.started;
        }
      }
      if (stored) this.#o.dirCache?.reuseNodes(stored.size);
      // Listed: its last files go at the next free slot, with whatever other directories add until then. The walk
      // waits for that slot, as for a full batch: it runs no further ahead of the reads than a batch.
      if (smallFiles) await this.#smallFiles.need(smallFiles);
      if (parent)
        this.#passOverGone(
          parent,
          dirs.map((i) => nodes[i]!),
        );
      subdirsArchived = (
        await this.#walkSubdirs(
          dir,
          dirs.filter((i) => !archivedSubdirs?.has(i)).map((i) => ({ node: nodes[i]!, parentSubtree: parent?.get(names[i]!.toString('hex'))?.subtree })),
          rules,
          rootDev,
          scan.lone,
        )
      ).archived;
      walkedAll = true;
    } finally {
      // Walked: the walk goes on elsewhere while this directory's files are stored, unless too many wait so
      // (`walked` is given for new directories only: #startSubdir).
      const waitsAside = walkedAll && walked !== undefined && names.length <= ASIDE_ENTRIES && this.#dirsAside.tryAcquire();
      if (waitsAside) walked();
      try {
        // Whether the walk finished or failed, nothing of this directory may still be running after it
        // (a walk that failed while listing it has files in the open batch still).
        if (smallFiles) void this.#smallFiles.need(smallFiles);
        await Promise.all(files);
        await subdirsArchived;
      } finally {
        if (waitsAside) this.#dirsAside.release();
      }
    }
    this.#throwFileFailure();
    // Cacheable only as the next walk would find it: no entry gone, none changed since the scan (a file while it was
    // read), every extended attribute read (another run may read those it could not), every subdirectory cacheable.
    cacheable &&= nodes.every(
      (n, i) => n === undefined || (!this.#vanished.has(n) && !xattrsPartly(n) && (n.type === 'file' ? scan.sameAsScanned(i, n) : n.type !== 'dir' || this.#cacheableDirs.has(n))),
    );
    const listing = this.#recorded(nodes.filter((n): n is TreeNode => n !== undefined && !this.#vanished.has(n)));
    let tree: string;
    const compared = parentSubtree && parentListing ? againstParent(listing, parentListing, stored) : undefined;
    // Nothing changed here since the parent snapshot: its tree is this one, without serializing and hashing it again.
    if (parentSubtree && compared?.same && this.#o.repo.hasBlob(parentSubtree)) {
      // A subdirectory whose parent tree could not be read (damaged) may still come out with the same id: its
      // tree was not decoded in this run, so neither this one counts as checked.
      if (subtreesIn(listing, this.#reusedTrees)) this.#reusedTrees.add(parentSubtree);
      tree = parentSubtree;
    } else tree = await this.#saveTree(listing, compared?.storedTexts);
    if (cacheable)
      this.#o.dirCache?.keep(dir, {
        digest: scan.digest!,
        rules: rules.key,
        tree,
        ...ownCounts(listing),
        children: listing.flatMap((n) => (n.type === 'dir' ? [n.subtree!] : [])),
        nodeDigests: digestsOf(scan, nodes),
      });
    return { tree, cacheable };
  }

  /**
   * A directory whose listing is the one its cache entry was made from, under the same rules:
   * its subdirectories are walked (from the trees the entry names), and when each comes out
   * with the tree the entry has for it, and cacheable, the entry's tree is this one's. Else
   * the nodes of the subdirectories walked, for the rest of the walk to go on with.
   */
  async #takeCached(dir: Buffer, scan: DirScan, cached: DirCacheEntry, rules: ExcludeRules, rootDev: bigint): Promise<{ tree: string } | { walked: Map<number, TreeNode> | undefined }> {
    const subdirs: number[] = [];
    const mayExclude = rules.mayExcludeIn(dir);
    for (let i = 0; i < scan.names.length; i++) if (scan.isDirectory(i) && !(mayExclude && rules.excludes(scan.paths[i]!, true))) subdirs.push(i);
    const nodes = subdirs.map((i) => scan.node(i));
    // A time outside what the scan holds is stat'ed again, and that stat can fail or find something else: the full walk tells.
    if (subdirs.length !== cached.children.length || !nodes.every((n): n is TreeNode => !(n instanceof Error) && n.type === 'dir')) return { walked: undefined };
    await (
      await this.#walkSubdirs(
        dir,
        nodes.map((node, k) => ({ node, parentSubtree: cached.children[k] })),
        rules,
        rootDev,
        scan.lone,
      )
    ).archived;
    this.#throwFileFailure();
    if (!nodes.every((node, k) => node.subtree === cached.children[k] && this.#cacheableDirs.has(node))) return { walked: new Map(subdirs.map((i, k) => [i, nodes[k]!])) };
    this.#stats.files += cached.files;
    this.#stats.unchangedFiles += cached.regularFiles;
    this.#stats.bytes += cached.bytes;
    this.#stats.dataBlobs += cached.dataBlobs;
    this.#emitProgress();
    // Checked as a tree reused from the parent is (StructureCheckOptions.reusedTrees): the run that cached it decoded
    // or wrote it and found its blobs indexed, no index file has gone since, and it is read back (#readBackCached).
    if (cached.children.every((id) => this.#reusedTrees.has(id))) this.#reusedTrees.add(cached.tree);
    if (this.#o.readBackCachedTrees !== false) {
      this.#cachedToRead.push(cached.tree);
      if (this.#cachedToRead.length >= CACHED_READ_BATCH) void this.#readBackCached();
    }
    this.#o.dirCache!.reuse(dir, cached);
    // Read ahead with a sibling that changed, maybe: not kept, and not read from now on.
    this.#parentTrees.passOver([cached.tree]);
    return { tree: cached.tree };
  }

  /**
   * Reads back the trees the cache gave so far, a batch after the one before: every blob read
   * is checked against its id, so one damaged since it was cached is found here, as the walk
   * without the cache finds it reading the parent's tree. Resolves once all are read.
   */
  #readBackCached(): Promise<void> {
    const batch = this.#cachedToRead;
    this.#cachedToRead = [];
    this.#cachedReads = this.#cachedReads.then(() =>
      treesReadBack(this.#o.repo, batch, CACHED_READ_BYTES).then(
        (intact) => {
          if (!intact) this.#cachedDamaged = true;
        },
        () => {
          this.#cachedDamaged = true;
        },
      ),
    );
    return this.#cachedReads;
  }

  /** Scans `dirs` in one trip to the pool, for their walks to take (#archiveDir). */
  #scanAhead(dirs: Buffer[], rules: ExcludeRules): void {
    if (dirs.length < 2) return;
    const scans = scanDirs(
      dirs,
      SCAN_STAT_MAX,
      dirs.every((dir) => !rules.mayExcludeIn(dir)),
    );
    for (const [i, dir] of dirs.entries()) {
      const scan = scans.then((all) => all[i]!);
      // Not taken when the walk fails first: no unhandled rejection then.
      scan.catch(() => undefined);
      this.#scansAhead.set(dir.toString('latin1'), scan);
    }
  }

  /**
   * Walks subdirectories, each into its node's subtree: beside this walk when a slot is free,
   * else here and now. Resolves once each is walked (listed, its files on their way to the
   * pool, its own subdirectories walked) with `archived`, which settles once each is archived,
   * rejecting with the first failure in their order. A walk holds its slot only until it is
   * walked and never waits for one: walking goes on while files are stored, as far as the
   * batches of files in flight let it (SmallFileBatches.add), and memory stays proportional
   * to the tree's depth times the slots, plus the directories whose files are in flight.
   */
  async #walkSubdirs(dir: Buffer, subdirs: { node: TreeNode; parentSubtree: string | undefined }[], rules: ExcludeRules, rootDev: bigint, lone: DirScan['lone']): Promise<{ archived: Promise<void> }> {
    const archived: Promise<void>[] = [];
    const walkedBeside: Promise<void>[] = [];
    const paths = subdirs.map(({ node }) => joinPath(dir, node.name));
    // Mount points left out (oneFileSystem) are not entered: not scanned either.
    const entered = paths.filter((_, k) => !this.#isMountPoint(subdirs[k]!.node, rootDev));
    // A lone subdirectory was scanned with this directory (DirScan.lone).
    if (lone && entered.length === 1 && entered[0]!.equals(lone.path)) this.#scansAhead.set(lone.path.toString('latin1'), Promise.resolve(lone.scan));
    let reached = 0;
    let scannedUntil = 0;
    try {
      for (const [k, { node, parentSubtree }] of subdirs.entries()) {
        this.#throwFileFailure();
        if (!this.#isMountPoint(node, rootDev) && reached++ >= scannedUntil - SCANS_AHEAD / 2 && scannedUntil < entered.length) {
          this.#scanAhead(entered.slice(scannedUntil, scannedUntil + SCANS_AHEAD), rules);
          scannedUntil += SCANS_AHEAD;
        }
        const beside = this.#dirWalks.tryAcquire();
        const { walked, done } = this.#startSubdir(paths[k]!, node, parentSubtree, rules, rootDev, beside);
        archived.push(done);
        if (beside) walkedBeside.push(walked);
        else await walked;
      }
      await Promise.all(walkedBeside);
    } catch (err) {
      await Promise.allSettled(archived);
      throw err;
    }
    const all = Promise.allSettled(archived).then((results) => {
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    // Handled here: the caller awaits it only after its own files, and a subdirectory that failed meanwhile would
    // otherwise be an unhandled rejection (the CLI exits on one).
    all.catch(() => undefined);
    // In an object: an async function's promise would take on this one's settling, and wait for it.
    return { archived: all };
  }

  /**
   * Archives a subdirectory (#archiveSubdir), whose `walked` settles once it is walked or
   * archived; a slot taken for it (#dirWalks) is given back then. A failure also stops every
   * walk at its next step, like a file's.
   */
  #startSubdir(path: Buffer, node: TreeNode, parentSubtree: string | undefined, rules: ExcludeRules, rootDev: bigint, slot: boolean): { walked: Promise<void>; done: Promise<void> } {
    // In the parent snapshot: it never waits aside, and walked is archived. Compared with its listing there, it
    // holds that listing until its files are stored: in an incremental backup of the bench's real tree, 16 such
    // directories aside held 6-14 MiB more at the peak, for no time gained. And without the callback and its
    // promise, a walk of the cached tree (a no-op backup) was 5 % faster.
    if (parentSubtree !== undefined) {
      const archived = this.#archiveSubdir(path, node, parentSubtree, rules, rootDev);
      const done = slot ? archived.finally(() => this.#dirWalks.release()) : archived;
      done.catch(this.#keepFailure);
      return { walked: done, done };
    }
    let resolveWalked!: () => void;
    const walked = new Promise<void>((resolve) => (resolveWalked = resolve));
    let holding = slot;
    const isWalked = () => {
      if (holding) this.#dirWalks.release();
      holding = false;
      resolveWalked();
    };
    const done = this.#archiveSubdir(path, node, parentSubtree, rules, rootDev, isWalked).finally(isWalked);
    done.catch(this.#keepFailure);
    return { walked, done };
  }

  /** Waits for a free slot, then archives the file in the background; `done` settles (never rejects) when it is stored. */
  async #startLargeFile(path: Buffer, node: TreeNode, previous: TreeNode | undefined): Promise<{ done: Promise<void> }> {
    const long = (node.size ?? 0) >= LONG_FILE_BYTES;
    // Taken before the large-file slot, always in this order, so no two waits can hold each other up.
    if (long) await this.#longFiles.acquire();
    const started = await this.#inBackground(this.#largeFiles, () => this.#archiveFile(path, node, previous));
    if (long) void started.done.then(() => this.#longFiles.release());
    return started;
  }

  async #inBackground(slots: Slots, work: () => Promise<void>): Promise<{ done: Promise<void> }> {
    await slots.acquire();
    const done = work()
      .catch(this.#keepFailure)
      .finally(() => slots.release());
    return { done };
  }

  /**
   * Small changed or new files: read, stat and hashed in one trip to the pool, the new
   * blobs sealed in another, or in the same trip for a batch of a few files
   * (SEALED_WITH_READ_UP_TO). A file that grew since its stat is streamed like a large one.
   */
  async #archiveSmallBatch(batch: PendingFile[]): Promise<void> {
    // Started once a slot is free, maybe after the walk failed or was interrupted elsewhere: not read for nothing.
    this.#checkAborted();
    this.#throwFileFailure();
    const sizes = batch.map((f) => f.node.size ?? 0);
    const paths = batch.map((f) => f.path);
    const buffer = this.#readBuffers.lease(smallReadsBound(sizes));
    let reads: SmallFileRead[];
    try {
      const stored = batch.length <= SEALED_WITH_READ_UP_TO ? await this.#readSealAndSave(paths, sizes, buffer.buffer) : await this.#readThenSave(paths, sizes, buffer.buffer);
      reads = stored.reads;
      for (const saved of stored.saved) {
        if (!saved.stored) continue;
        this.#stats.newDataBlobs++;
        this.#stats.addedBytes += saved.storedSize;
      }
    } finally {
      // Sealed and copied into packs: the data read is no longer needed.
      buffer.releases[0]!();
    }
    const grown: PendingFile[] = [];
    for (const [i, f] of batch.entries()) {
      const read = reads[i]!;
      if (!read.ok && read.grew) {
        grown.push(f);
        continue;
      }
      if (!read.ok && goneAtOpen(read.error)) {
        this.#vanished.add(f.node);
        continue;
      }
      if (read.ok) await this.#recordAsRead(f.path, f.node, read);
      this.#stats.files++;
      if (f.previous) this.#stats.changedFiles++;
      else this.#stats.newFiles++;
      if (!read.ok) {
        this.#warn(f.path.toString(), read.error);
        f.node.content = [];
        f.node.size = 0;
        continue;
      }
      const statSize = f.node.size ?? 0;
      f.node.content = read.data.length > 0 ? [read.id] : [];
      f.node.size = read.data.length;
      this.#stats.bytes += read.data.length;
      this.#stats.dataBlobs += f.node.content.length;
      this.#bytesRead += read.data.length;
      this.#warnIfChanged(f.path, f.node, statSize, read);
    }
    for (const f of grown) await this.#archiveFile(f.path, f.node, f.previous);
    this.#emitProgress();
  }

  /** Reads and hashes a batch, then seals what the repository lacks: two trips to the pool, no sealing wasted. */
  async #readThenSave(paths: Buffer[], sizes: number[], into: Buffer): Promise<{ reads: SmallFileRead[]; saved: SaveBlobResult[] }> {
    const reads = await readSmallFiles(paths, sizes, into);
    this.#checkAborted();
    const repo = this.#o.repo;
    const fresh: { id: string; data: Buffer }[] = [];
    for (const read of reads) if (read.ok && read.data.length > 0 && !repo.hasBlob(read.id)) fresh.push({ id: read.id, data: read.data });
    return { reads, saved: await repo.saveBlobs('data', fresh) };
  }

  /**
   * Reads, hashes and seals a batch in one trip (readAndSealSmallFiles), and the repository
   * keeps the records of the blobs it lacks: a file found stored was sealed for nothing.
   */
  async #readSealAndSave(paths: Buffer[], sizes: number[], into: Buffer): Promise<{ reads: SmallFileRead[]; saved: SaveBlobResult[] }> {
    let reads: SealedSmallFileRead[] = [];
    const saved = await this.#o.repo.saveMadeBlobs('data', sealedReadsBound(sizes), async (seal) => {
      reads = seal ? await readAndSealSmallFiles(paths, sizes, seal.sealing, into, seal.into) : await readSmallFiles(paths, sizes, into);
      // Interrupted while reading: nothing more is stored.
      this.#checkAborted();
      return reads.flatMap((read) => (read.ok && read.data.length > 0 ? [{ id: read.id, data: read.data, sealed: read.sealed }] : []));
    });
    return { reads, saved };
  }

  #throwFileFailure(): void {
    if (this.#fileFailure) throw this.#fileFailure.error;
  }

  /**
   * The nodes as a tree records them, without what moves when nothing changed, which would
   * give their directory, and every one above it, a new tree at each backup (borg records
   * neither by default; restic leaves out the first, and the second behind its
   * device-id-for-hardlinks feature):
   * - the access time, unless the source asks for it (withAtime): any read of a file, by
   *   anyone, moves it (under relatime, once a day), and the mtime stands in for it. A no-op
   *   backup of the bench's real tree after a read of one file in 20 stored 762 trees;
   * - the device, but for hard-linked files, which restore tells apart by it and their
   *   inode: its number changes when the file system is mounted again (sameFileIdentity).
   *   Their directories, and those above, still get new trees then.
   */
  #recorded(nodes: TreeNode[]): TreeNode[] {
    for (const node of nodes) {
      if (!this.#o.withAtime) node.atimeNs = node.mtimeNs;
      if (node.type !== 'file' || node.nlink <= 1) node.dev = 0n;
    }
    return nodes;
  }

  /**
   * An entry with the digest it had when the parent's tree was stored, in a directory that
   * changed: stored as it was (`text`, its node's text there), neither parsed nor compared.
   * A file's blobs are not looked up: they were indexed when the cache entry was kept, and
   * the cache counts for nothing once an index file it knew is gone (as for a tree it gives).
   */
  #reuseStored(node: TreeNode, text: string, stored: Map<TreeNode, string>): boolean {
    if (node.type === 'file') {
      const content = storedContent(text);
      // Not as this bkdr writes a file: read afresh (its parent node was not parsed).
      if (!content) return false;
      this.#countUnchanged(node, content);
    } else {
      this.#stats.files++;
      this.#emitProgress();
    }
    stored.set(node, text);
    return true;
  }

  /** An unchanged file (same identity as in the parent, all its blobs present) costs a stat, not a read. */
  #reuseUnchanged(node: TreeNode, previous: TreeNode | undefined): boolean {
    const repo = this.#o.repo;
    if (!(previous?.type === 'file' && previous.content && sameFileIdentity(previous, node) && previous.content.every((id) => repo.hasBlob(id)))) return false;
    this.#countUnchanged(node, previous.content);
    return true;
  }

  /** A file whose content is taken as stored before, not read: it gets that content and counts as unchanged. */
  #countUnchanged(node: TreeNode, content: string[]): void {
    node.content = content;
    this.#stats.files++;
    this.#stats.bytes += node.size ?? 0;
    this.#stats.unchangedFiles++;
    this.#stats.dataBlobs += content.length;
    this.#emitProgress();
  }

  async #archiveFile(path: Buffer, node: TreeNode, previous: TreeNode | undefined): Promise<void> {
    const repo = this.#o.repo;
    if (this.#reuseUnchanged(node, previous)) return;
    let content: string[] = [];
    let stored = 0;
    let unreadable = false;
    let after: { mtimeNs: bigint; size: bigint } | undefined;
    try {
      const size = node.size ?? 0;
      const onChunk = (length: number) => {
        this.#checkAborted();
        this.#bytesRead += length;
        this.#emitProgress();
      };
      // Below the chunker's minimum a file is one chunk: read it whole, without the stream machinery.
      const [whole] = size < repo.chunker().params.minSize ? await readSmallFiles([path], [size]) : [];
      if (whole && !whole.ok && !whole.grew) throw whole.error;
      let written: ContentResult | undefined;
      if (whole?.ok) {
        await this.#recordAsRead(path, node, whole);
        after = whole;
        if (whole.data.length > 0) {
          onChunk(whole.data.length);
          written = await writeSingleChunk(whole.id, whole.data, repo);
        }
      } else {
        // Holes are read as zeros: content-defined chunking turns a run of zeros into one
        // repeated blob, and the restorer recreates the holes of files marked sparse.
        written = await withFileReader(path, async (read, opened) => {
          // Changed since its stat (see #recordAsRead): recorded as opened, and warned about only if it changes while read.
          if (opened.isFile() && !sameSizeAndMtime(node, opened)) takeStats(node, await nodeFromStats(path, node.name, opened));
          return writeContent(read, repo, onChunk);
        });
      }
      if (written) {
        content = written.ids;
        stored = written.bytes;
        this.#stats.dataBlobs += written.ids.length;
        this.#stats.newDataBlobs += written.newBlobs;
        this.#stats.addedBytes += written.addedBytes;
      }
    } catch (err) {
      // Only reading the source is the file's problem; a destination that fails (full, gone) fails the run.
      if (err instanceof BkdrError) throw err;
      if (goneAtOpen(err)) {
        this.#vanished.add(node);
        return;
      }
      this.#warn(path.toString(), err);
      unreadable = true;
      content = [];
      stored = 0;
    }
    // Counted once read: the node now says what was read (#recordAsRead), and holds its size.
    this.#stats.files++;
    if (previous) this.#stats.changedFiles++;
    else this.#stats.newFiles++;
    const statSize = node.size ?? 0;
    node.content = content;
    // The size of what was stored, not what the stat said: a file that shrank while it was read
    // would otherwise restore padded with zeros (and pass verification), one that grew would fail it.
    node.size = stored;
    this.#stats.bytes += stored;
    // One that could not be read was warned about, and is stored empty: not also "changed while read".
    if (!unreadable) this.#warnIfChanged(path, node, statSize, after ?? lstatSilently(path));
  }

  /**
   * A file that changed between its stat and its open, but not while it was read, is
   * recorded as read: with a stat taken again, when that still says what the read saw.
   * The stat may be seconds old (a directory's window of stats, taken before its files are read),
   * and a file written since (the catalog's journal, by this very run) was otherwise
   * recorded with a size and mtime its content does not have, and warned about. One that
   * changed while it was read keeps its stat, and #warnIfChanged tells.
   */
  async #recordAsRead(path: Buffer, node: TreeNode, read: { mtimeNs: bigint; size: bigint; opened: { mtimeNs: bigint; size: bigint } }): Promise<void> {
    if (sameSizeAndMtime(node, read.opened) || read.opened.mtimeNs !== read.mtimeNs || read.opened.size !== read.size) return;
    const fresh = await statNode(path, node.name).catch(() => undefined);
    if (fresh?.type === 'file' && sameSizeAndMtime(fresh, read)) takeStats(node, fresh);
  }

  /**
   * `statSize` is the file's size as its read began (the walk's stat, or the open file's),
   * `node.size` what was read and stored, and `after` the file's stat once read. Fewer or
   * more bytes read than the stat said (it shrank or grew meanwhile: the read goes to the
   * end of the file, wherever that is by then), or a different size or mtime after the read,
   * mean it changed while it was read.
   */
  #warnIfChanged(path: Buffer, node: TreeNode, statSize: number, after: { mtimeNs: bigint; size: bigint } | undefined): void {
    const changed = node.size !== statSize || (after !== undefined && (after.mtimeNs !== node.mtimeNs || after.size !== BigInt(statSize)));
    if (changed) this.#o.onWarning?.(path.toString(), 'file changed while it was read; the snapshot holds what was read');
  }

  /** The parent's subdirectories this walk will not enter (gone, excluded, no longer directories): their trees are not read ahead. */
  #passOverGone(parent: Map<string, TreeNode>, entered: TreeNode[]): void {
    const walked = new Set<string>();
    for (const node of entered) {
      const subtree = parent.get(node.name.toString('hex'))?.subtree;
      if (subtree) walked.add(subtree);
    }
    const gone: string[] = [];
    for (const node of parent.values()) if (node.type === 'dir' && node.subtree && !walked.has(node.subtree)) gone.push(node.subtree);
    if (gone.length > 0) this.#parentTrees.passOver(gone);
  }

  /**
   * Stores a listing as a tree. It joins #writtenTrees when each of its subdirectories' trees
   * is there or in #reusedTrees: the walk made every node of it, and either stored each
   * file's content, recording the size of what was stored (#archiveFile), or found it in the
   * index, with the size the parent snapshot recorded for it (#reuseUnchanged), or took
   * its node as the directory cache kept it (#reuseStored).
   */
  async #saveTree(listing: TreeNode[], storedTexts?: ReadonlyMap<TreeNode, string>): Promise<string> {
    const tree = await this.#o.repo.saveTree(listing, storedTexts);
    if (subtreesIn(listing, this.#writtenTrees, this.#reusedTrees)) this.#writtenTrees.add(tree);
    return tree;
  }

  /** A parent we cannot read only costs speed: everything is read afresh. */
  #loadParent(treeId: string, stored?: StoredNodes): Promise<ParentListing | undefined> {
    return this.#parentTrees.load(treeId, stored);
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

/** The file was deleted after its stat: opening it found nothing. */
function goneAtOpen(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOENT' && e.syscall === 'open';
}

/** A directory's own entries as the walk counts them when it takes their tree from the cache (#takeCached). */
function ownCounts(listing: TreeNode[]): Pick<DirCacheEntry, 'files' | 'regularFiles' | 'bytes' | 'dataBlobs'> {
  const counts = { files: 0, regularFiles: 0, bytes: 0, dataBlobs: 0 };
  for (const node of listing) {
    if (node.type === 'dir') continue;
    counts.files++;
    if (node.type !== 'file') continue;
    counts.regularFiles++;
    counts.bytes += node.size ?? 0;
    counts.dataBlobs += node.content?.length ?? 0;
  }
  return counts;
}

function sameSizeAndMtime(node: TreeNode, stat: { mtimeNs: bigint; size: bigint }): boolean {
  return node.mtimeNs === stat.mtimeNs && BigInt(node.size ?? 0) === stat.size;
}

function lstatSilently(path: Buffer): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}

/** Whether the tree of each subdirectory in `listing` is in one of `sets`. */
function subtreesIn(listing: TreeNode[], ...sets: ReadonlySet<string>[]): boolean {
  return listing.every((n) => n.type !== 'dir' || (n.subtree !== undefined && sets.some((set) => set.has(n.subtree!))));
}

/**
 * How a directory's new listing stands against its parent snapshot's, node for node as
 * stored. `same`: it is the parent's (the names are unique on both sides, so equal counts
 * and a match for each new node suffice), whose tree is then kept byte for byte, with any
 * field a newer bkdr wrote that this one does not read. Else `storedTexts`: the nodes that
 * match, each with its text in the parent's tree, which serializeTree writes again as it is
 * (an incremental backup of the bench's real tree stored 1,949 trees of 42,185 nodes,
 * most of them unchanged). `stored`: nodes known to match already, with their texts
 * (#reuseStored), whose parent nodes the listing leaves out.
 */
function againstParent(listing: TreeNode[], parent: ParentListing, stored: Map<TreeNode, string> | undefined): { same: boolean; storedTexts: Map<TreeNode, string> | undefined } {
  const { nodes: previous, positions, texts } = parent;
  let same = listing.length === (texts?.length ?? previous.length);
  const storedTexts = texts && (stored ?? new Map<TreeNode, string>());
  // Both in bytewise order of their names (scanDir's, serializeTree's): walked side by side.
  // A parent tree in another order only matches less, and is then not kept.
  let p = 0;
  for (const node of listing) {
    if (stored?.has(node)) continue;
    let order = -1;
    while (p < previous.length && (order = Buffer.compare(previous[p]!.name, node.name)) < 0) p++;
    if (order !== 0 || !sameStoredNode(node, previous[p]!)) {
      same = false;
      if (!storedTexts) break;
    } else storedTexts?.set(node, texts![positions?.[p] ?? p]!);
  }
  return { same, storedTexts };
}

/**
 * The entries of a changed directory with the digest a node of its cached tree was stored
 * with: by entry, that node's position. Directories are never among them (their subtrees
 * change below them, and the walk reads ahead from their nodes).
 */
function storedEntries(scan: DirScan, cached: DirCacheEntry): Map<number, number> | undefined {
  const digests = scan.entryDigests;
  if (!digests) return undefined;
  const found = matchEntryDigests(digests, cached.nodeDigests);
  const stored = new Map<number, number>();
  // Nor an entry whose node takes an lstat of its own: what that finds is not what the digest says.
  for (let i = 0; i < found.length; i++) if (found[i]! >= 0 && !scan.isDirectory(i) && !scan.statedAgain(i)) stored.set(i, found[i]!);
  return stored;
}

function parsedNodeOrNothing(text: string, tree: string): TreeNode | undefined {
  try {
    return parseStoredNode(text, tree);
  } catch {
    return undefined;
  }
}

/** The digests of the entries a cacheable directory's tree holds (every node: none failed or vanished), in its order. */
function digestsOf(scan: DirScan, nodes: (TreeNode | undefined)[]): Buffer {
  const all = scan.entryDigests!;
  if (!nodes.includes(undefined)) return all;
  const out = Buffer.allocUnsafe(nodes.length * ENTRY_DIGEST_BYTES);
  let used = 0;
  for (let i = 0; i < nodes.length; i++) if (nodes[i] !== undefined) used += all.copy(out, used, i * ENTRY_DIGEST_BYTES, (i + 1) * ENTRY_DIGEST_BYTES);
  return out.subarray(0, used);
}
