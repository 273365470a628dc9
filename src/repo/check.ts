import { IntegrityError, InterruptedError } from '../core/errors.js';
import type { BlobLocation } from './blob-index.js';
import type { IndexedPack, Repository } from './repository.js';
import type { Snapshot } from './snapshot.js';
import { type NodeReferences, treeReferences } from './tree.js';
import { treesInOrder } from './trees-in-order.js';
import { treesReadBack } from './trees-read-back.js';
import { WholePacks } from './whole-packs.js';

/** Plaintext of trees the structure check holds at once: a level can be a whole snapshot's directories. */
const TREE_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * Packs the structure check's tree reads keep whole (WholePacks) when the destination is
 * remote: there, reading a pack's spans again for each level of the tree is a download
 * each time. Not from a local disk, where the reads again are page-cache copies and held
 * packs would only add to the backup's peak memory.
 */
const REMOTE_TREE_PACKS_BYTES = 32 * 1024 * 1024;

/**
 * Checks a repository: the structure always (every index entry's pack is stored with
 * the right size; every tree and data blob the snapshots reach is in the index and
 * its tree decodes; every file's recorded size is its content's length), and, for the
 * packs chosen, the data (each pack is read whole and every blob in it decrypted and
 * hashed). Damage is reported with every file and snapshot that depends on it, so an
 * operator knows what a restore would lose.
 */

export interface CheckProblem {
  kind: 'damaged-index' | 'missing-pack' | 'pack-size' | 'damaged-pack' | 'missing-blob' | 'damaged-tree' | 'file-size';
  message: string;
  pack?: string;
}

export interface AffectedFile {
  snapshot: string;
  path: string;
  reason: string;
}

export interface DamagedPack {
  id: string;
  problem: string;
  damagedBlobs: number;
  /** The files (snapshot and path) whose content or listing lives in this pack. */
  files: AffectedFile[];
}

export interface CheckReport {
  snapshots: number;
  trees: number;
  dataBlobs: number;
  packs: { stored: number; indexed: number; read: number; unindexed: number };
  problems: CheckProblem[];
  damagedPacks: DamagedPack[];
  affected: AffectedFile[];
  /** Per pack read: whether it was intact (for read-data coverage). */
  packsRead: { packId: string; ok: boolean }[];
  /** Blobs that cannot be read back: failed their check, or sit in a missing or truncated pack. */
  unreadableBlobs: string[];
}

/** What a repository holds: stored packs with their sizes, and the index files. */
export interface PackInventory {
  stored: Map<string, number>;
  indexFiles: { id: string; packs: IndexedPack[] }[];
}

/** Lists the packs and reads every index file once, for a check and whoever chooses its sample. */
export async function takeInventory(repo: Repository): Promise<PackInventory> {
  const stored = new Map<string, number>();
  for await (const p of repo.listPacks()) stored.set(p.id, p.size);
  return { stored, indexFiles: await repo.readIndexFiles() };
}

export interface CheckOptions {
  /** Taken already by the caller (to choose `readPacks`); else taken here. */
  inventory?: PackInventory | undefined;
  /** The packs to read whole; none for a structure check. */
  readPacks?: ReadonlySet<string> | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: { packsRead: number; packsToRead: number }) => void) | undefined;
}

export async function checkRepository(repo: Repository, snapshots: readonly Snapshot[], opts: CheckOptions = {}): Promise<CheckReport> {
  const report: CheckReport = {
    snapshots: snapshots.length,
    trees: 0,
    dataBlobs: 0,
    packs: { stored: 0, indexed: 0, read: 0, unindexed: 0 },
    problems: [],
    damagedPacks: [],
    affected: [],
    packsRead: [],
    unreadableBlobs: [],
  };
  const badPacks = new Map<string, string>();
  const damagedBlobs = new Set<string>();
  for (const d of repo.damagedIndexFiles) report.problems.push({ kind: 'damaged-index', message: d.problem });

  const { stored, indexFiles } = opts.inventory ?? (await takeInventory(repo));
  report.packs.stored = stored.size;

  const indexed = new Map<string, { size: number; blobs: BlobLocation[] }>();
  for (const file of indexFiles) {
    for (const pack of file.packs) {
      if (indexed.has(pack.id)) continue;
      indexed.set(pack.id, { size: pack.size, blobs: pack.blobs.map((b) => ({ id: b.id, packId: pack.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.rawLength })) });
    }
  }
  report.packs.indexed = indexed.size;
  report.packs.unindexed = [...stored.keys()].filter((id) => !indexed.has(id)).length;
  for (const [id, pack] of indexed) {
    const size = stored.get(id);
    if (size === undefined) {
      badPacks.set(id, 'missing');
      report.problems.push({ kind: 'missing-pack', pack: id, message: `pack ${id.slice(0, 12)} is missing (the index lists ${pack.blobs.length} blobs in it)` });
    } else if (size !== pack.size) {
      badPacks.set(id, `${size} bytes, the index says ${pack.size}`);
      report.problems.push({ kind: 'pack-size', pack: id, message: `pack ${id.slice(0, 12)} is ${size} bytes, the index says ${pack.size} (truncated or overwritten)` });
    }
  }

  const toRead = [...(opts.readPacks ?? [])].filter((id) => indexed.has(id) && stored.has(id) && !badPacks.has(id));
  for (const id of toRead) {
    if (opts.signal?.aborted) throw new InterruptedError('verify interrupted');
    const check = await repo.checkPack(id, indexed.get(id)!.size, indexed.get(id)!.blobs);
    report.packs.read++;
    report.packsRead.push({ packId: id, ok: check.ok });
    opts.onProgress?.({ packsRead: report.packs.read, packsToRead: toRead.length });
    if (check.ok) continue;
    const problem = check.problem ?? `${check.damagedBlobs.length} damaged blobs`;
    badPacks.set(id, problem);
    for (const b of check.damagedBlobs) damagedBlobs.add(b);
    report.problems.push({
      kind: 'damaged-pack',
      pack: id,
      message: `pack ${id.slice(0, 12)}: ${problem}${check.damagedBlobs.length > 0 ? `; ${check.damagedBlobs.length} of its blobs cannot be read` : ''}`,
    });
  }

  const filesByPack = new Map<string, AffectedFile[]>();
  const affect = (snapshot: Snapshot, path: string, blobId: string, what: string, location = repo.lookupBlob(blobId)): boolean => {
    let reason: string | undefined;
    let pack: string | undefined;
    if (!location) reason = `${what} ${blobId.slice(0, 12)} is not in the index`;
    else if (badPacks.has(location.packId) || damagedBlobs.has(blobId)) {
      pack = location.packId;
      reason = `${what} ${blobId.slice(0, 12)} is in ${badPacks.get(location.packId) === 'missing' ? 'missing' : 'damaged'} pack ${location.packId.slice(0, 12)}`;
    }
    if (!reason) return false;
    const file = { snapshot: snapshot.id, path, reason };
    report.affected.push(file);
    if (pack) filesByPack.set(pack, [...(filesByPack.get(pack) ?? []), file]);
    return true;
  };

  const seenTrees = new Set<string>();
  const seenData = new Set<string>();
  let misrecorded = 0;
  for (const snapshot of snapshots) {
    const stack: { tree: string; path: string }[] = [{ tree: snapshot.tree, path: '/' }];
    while (stack.length > 0) {
      if (opts.signal?.aborted) throw new InterruptedError('verify interrupted');
      const { tree, path } = stack.pop()!;
      // A listing in a damaged pack may itself be intact: only one that cannot be read cuts off what is below it.
      const location = repo.lookupBlob(tree);
      if (!location || badPacks.get(location.packId) === 'missing' || damagedBlobs.has(tree)) {
        affect(snapshot, path, tree, 'its listing');
        continue;
      }
      let nodes;
      try {
        nodes = await repo.loadTree(tree);
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        report.problems.push({ kind: 'damaged-tree', message: `tree ${tree.slice(0, 12)} (${path} in backup ${snapshot.id.slice(0, 8)}): ${err.message}` });
        report.affected.push({ snapshot: snapshot.id, path, reason: err.message });
        continue;
      }
      if (!seenTrees.has(tree)) {
        seenTrees.add(tree);
        report.trees++;
      }
      for (const node of nodes) {
        const child = `${path === '/' ? '' : path}/${node.name.toString()}`;
        if (node.subtree) stack.push({ tree: node.subtree, path: child });
        for (const id of node.content ?? []) {
          if (seenData.has(id)) continue;
          seenData.add(id);
          report.dataBlobs++;
        }
        let length = 0;
        let lost = false;
        for (const id of node.content ?? []) {
          const location = repo.lookupBlob(id);
          // One line per file is enough: the first blob it cannot get back.
          lost = affect(snapshot, child, id, 'data blob', location);
          if (lost) break;
          length += location?.rawLength ?? 0;
        }
        if (!lost && node.type === 'file' && (node.size ?? 0) !== length) {
          misrecorded++;
          report.affected.push({ snapshot: snapshot.id, path: child, reason: fileSizeProblem(node.size ?? 0, length) });
        }
      }
    }
  }
  if (misrecorded > 0) {
    report.problems.push({
      kind: 'file-size',
      message: `${misrecorded} files record another size than their content holds (changed while they were backed up): a restore gives their content, not the size recorded`,
    });
  }
  if (report.affected.some((a) => a.reason.includes('is not in the index'))) {
    report.problems.push({
      kind: 'missing-blob',
      message: `${report.affected.filter((a) => a.reason.includes('is not in the index')).length} files or listings reach blobs that no index names (a lost index file: \`bkdr backup repair index\` rebuilds it)`,
    });
  }
  const unreadable = new Set(damagedBlobs);
  for (const [id, problem] of badPacks) {
    const indexedBlobs = indexed.get(id)?.blobs ?? [];
    // A pack whose bytes merely fail their hash may still hold intact blobs; a missing or cut one does not.
    if (problem === 'missing' || !problem.includes('damaged')) for (const b of indexedBlobs) unreadable.add(b.id);
    report.damagedPacks.push({ id, problem, damagedBlobs: problem === 'missing' ? indexedBlobs.length : indexedBlobs.filter((b) => damagedBlobs.has(b.id)).length, files: filesByPack.get(id) ?? [] });
  }
  report.unreadableBlobs = [...unreadable];
  return report;
}

export interface StructureCheckOptions {
  signal?: AbortSignal | undefined;
  /**
   * Trees the backup took unchanged from its parent snapshot (the archiver's reuse of a
   * directory). Every blob they reach was found in the index: in this run, or for what its
   * directory cache gave it (a tree, or nodes by their entries' digests), by the run that
   * first wrote or decoded it (the cache counts for nothing once an index file is gone). So when every pack the index
   * names is stored, they pass the check as they are, and are not read again: in an
   * incremental backup, that is most of its trees. With a pack missing, or a tree of
   * writtenTrees that does not read back, every tree is read, to name the paths the damage
   * takes with it. Damage to a stored tree's bytes since is `backup verify`'s to find, and
   * so is what the parent snapshot's own check let pass (a size its older bkdr recorded).
   */
  reusedTrees?: ReadonlySet<string> | undefined;
  /**
   * Trees the backup wrote, each with every tree below it here or in reusedTrees: the
   * archiver made their nodes, and found each blob they reach in the index or stored it
   * (FilesArchiver.#saveTree), or for a node its directory cache gave by its entry's
   * digest, as for a tree the cache gives (reusedTrees). They pass as reused trees do, once read back: each must
   * hash to its id, so that it holds what was written. Not decoded: in a first backup,
   * decoding them was most of the check's time (the bench's real tree: 17.7 MB of trees,
   * 0.1 s of JSON.parse alone). So their text is taken to be what serializeTree made of
   * their nodes, as tested, and the nodes' texts it copied from the parent's trees to be
   * theirs (deserializeTreeTexts says when a cut can be wrong: a tree made to mislead).
   * One that does not read back, or a pack missing, and every tree is read, to name the
   * paths the damage takes with it.
   */
  writtenTrees?: ReadonlySet<string> | undefined;
}

/** Plaintext of the trees the backup wrote, read back at a time (treesReadBack). */
const READ_BACK_BYTES = 4 * 1024 * 1024;
/**
 * Runs of them read back side by side from a local destination, within that budget: after
 * a first backup of the bench's real tree, its 17.7 MB of trees read back in 44-61 ms with
 * four, against 76-81 ms in turn (three runs each). A remote destination's tree packs come
 * whole, once each (WholePacks), and are read in turn.
 */
const READ_BACK_LANES = 4;

/**
 * The check `backup run` makes of the backup it just wrote (config `verification`):
 * every listing reads back (and decodes, but for those the archiver made or reused: see
 * StructureCheckOptions), every blob it reaches is indexed in a pack that is stored, and
 * every file's recorded size is the length of its content (the index has each blob's).
 * Lighter than checkRepository: no index files are read again, and the trees the backup
 * reused or wrote are taken as the archiver found them (StructureCheckOptions).
 */
export async function checkSnapshotStructure(repo: Repository, snapshot: Snapshot, opts: StructureCheckOptions = {}): Promise<string[]> {
  const { signal } = opts;
  const stored = new Map<string, number>();
  for await (const p of repo.listPacks()) stored.set(p.id, p.size);
  const whole = repo.adapter.kind === 'local' ? undefined : new WholePacks(repo.adapter, stored, REMOTE_TREE_PACKS_BYTES);
  const treeReader = { loadBlob: (id: string) => repo.loadBlob(id), loadTrees: (ids: readonly string[], maxBytes: number) => repo.loadTrees(ids, maxBytes, whole) };
  const vouched =
    repo.indexedPackIds.every((id) => stored.has(id)) && (await treesReadBack(repo, [...(opts.writtenTrees ?? [])], READ_BACK_BYTES, { whole, signal, lanes: whole ? 1 : READ_BACK_LANES }));
  const skipped = (id: string) => vouched && (opts.reusedTrees?.has(id) === true || opts.writtenTrees?.has(id) === true);
  const problems: string[] = [];
  // `what` names the place only when something is wrong: most blobs never need it.
  const reachable = (id: string, what: () => string): BlobLocation | undefined => {
    const location = repo.lookupBlob(id);
    if (!location) problems.push(`${what()}: blob ${id.slice(0, 12)} is not in the index`);
    else if (!stored.has(location.packId)) problems.push(`${what()}: pack ${location.packId.slice(0, 12)} is missing`);
    else return location;
    return undefined;
  };
  const seen = new Set<string>([snapshot.tree]);
  let level: { tree: string; path: string }[] = [{ tree: snapshot.tree, path: '/' }];
  // A level of the tree at a time, its trees read together (treesInOrder): one request and
  // one trip to the pool per tree took longer than the rest of a backup's tail.
  while (level.length > 0 && problems.length < 20) {
    if (signal?.aborted) throw new InterruptedError('verification interrupted');
    const next: { tree: string; path: string }[] = [];
    const readable = level.filter((item) => reachable(item.tree, () => item.path) !== undefined);
    const trees = treesInOrder(
      treeReader,
      readable.map((item) => item.tree),
      TREE_BATCH_BYTES,
      treeReferences,
    );
    for (const { path } of readable) {
      if (signal?.aborted) throw new InterruptedError('verification interrupted');
      let nodes: NodeReferences[];
      try {
        nodes = await trees.next();
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        problems.push(`${path}: ${err.message}`);
        continue;
      }
      const childPath = (node: NodeReferences) => `${path === '/' ? '' : path}/${node.displayName}`;
      for (const node of nodes) {
        if (node.subtree && !seen.has(node.subtree) && !skipped(node.subtree)) {
          seen.add(node.subtree);
          next.push({ tree: node.subtree, path: childPath(node) });
        }
        let length = 0;
        let whole = true;
        for (const id of node.content ?? []) {
          const location = reachable(id, () => childPath(node));
          if (!location) {
            whole = false;
            break;
          }
          length += location.rawLength;
        }
        if (whole && node.type === 'file' && (node.size ?? 0) !== length) problems.push(`${childPath(node)}: ${fileSizeProblem(node.size ?? 0, length)}`);
      }
    }
    level = next;
  }
  return problems;
}

/** A file whose node records another size than its content holds: a restore can give only the content. */
function fileSizeProblem(recorded: number, stored: number): string {
  return `the backup records ${recorded} bytes, its content holds ${stored}`;
}
