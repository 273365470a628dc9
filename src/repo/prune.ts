import { IntegrityError, InterruptedError } from '../core/errors.js';
import type { BlobLocation } from './blob-index.js';
import { LocatedBlobs } from './pack-blobs.js';
import type { IndexedPack, Repository } from './repository.js';
import type { Snapshot } from './snapshot.js';

/**
 * Deleting data no snapshot needs, in the order that keeps a crash harmless: forget
 * snapshots, write repacked blobs and a new index, drop the old index files, and only
 * then delete packs. Interrupted anywhere, the repository holds at worst packs that
 * nothing references, which the next prune removes. The caller holds the exclusive
 * lock, so no backup can be about to reference what this deletes.
 */

export interface PruneOptions {
  /** A pack whose unused share of bytes is above this is repacked (its used blobs rewritten, the pack deleted). */
  repackThreshold?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface PrunePlan {
  usedBlobs: number;
  packs: { total: number; kept: number; repacked: number; deleted: number; unindexed: number };
  bytes: { total: number; unused: number; toFree: number };
  readonly deletePacks: string[];
  readonly repackBlobs: Map<string, BlobLocation[]>;
  readonly keptPacks: IndexedPack[];
  readonly oldIndexFiles: string[];
}

export interface PruneReport {
  packsDeleted: number;
  packsRepacked: number;
  blobsRepacked: number;
  bytesBefore: number;
  bytesAfter: number;
  bytesFreed: number;
}

const DEFAULT_REPACK_THRESHOLD = 0.2;

/** Marks every blob the kept snapshots reach, then sorts each pack into keep, repack or delete. */
export async function planPrune(repo: Repository, keep: readonly Snapshot[], opts: PruneOptions = {}): Promise<PrunePlan> {
  const used = await markUsedBlobs(repo, keep, opts.signal);
  const threshold = opts.repackThreshold ?? DEFAULT_REPACK_THRESHOLD;
  const indexFiles = await repo.readIndexFiles();
  const indexed = new Map<string, IndexedPack>();
  for (const file of indexFiles) for (const pack of file.packs) indexed.set(pack.id, pack);

  const plan: PrunePlan = {
    usedBlobs: used.size,
    packs: { total: 0, kept: 0, repacked: 0, deleted: 0, unindexed: 0 },
    bytes: { total: 0, unused: 0, toFree: 0 },
    deletePacks: [],
    repackBlobs: new Map(),
    keptPacks: [],
    oldIndexFiles: indexFiles.map((f) => f.id),
  };
  for await (const stored of repo.listPacks()) {
    plan.packs.total++;
    plan.bytes.total += stored.size;
    const pack = indexed.get(stored.id);
    if (!pack) {
      // Left by a backup that died before writing its index: nothing can reference it.
      plan.packs.unindexed++;
      plan.packs.deleted++;
      plan.bytes.unused += stored.size;
      plan.bytes.toFree += stored.size;
      plan.deletePacks.push(stored.id);
      continue;
    }
    // A blob stored twice counts where the index reads it from; the other copy is unused.
    const isLive = (b: IndexedPack['blobs'][number]) => used.has(b.id) && repo.lookupBlob(b.id)?.packId === pack.id;
    const live = pack.blobs.filter(isLive);
    // The header counts as used: a small pack is mostly header, and repacking it would only make another.
    const unusedBytes = pack.blobs.filter((b) => !isLive(b)).reduce((n, b) => n + b.length, 0);
    plan.bytes.unused += unusedBytes;
    if (live.length === 0) {
      plan.packs.deleted++;
      plan.bytes.toFree += stored.size;
      plan.deletePacks.push(pack.id);
    } else if (unusedBytes / stored.size > threshold) {
      plan.packs.repacked++;
      plan.bytes.toFree += unusedBytes;
      plan.deletePacks.push(pack.id);
      plan.repackBlobs.set(
        pack.id,
        live.map((b) => ({ id: b.id, packId: pack.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.rawLength })),
      );
    } else {
      plan.packs.kept++;
      plan.keptPacks.push(pack);
    }
  }
  return plan;
}

/** Carries out a plan. `forget` are the snapshots to delete (their ids), deleted first. */
export async function executePrune(repo: Repository, plan: PrunePlan, forget: readonly string[], opts: PruneOptions = {}): Promise<PruneReport> {
  for (const id of forget) await repo.deleteSnapshot(id);

  let blobsRepacked = 0;
  for (const [packId, blobs] of plan.repackBlobs) {
    if (opts.signal?.aborted) throw new InterruptedError('prune interrupted: the forgotten backups are gone; their data stays until the next prune');
    const located = new LocatedBlobs(blobs);
    await repo.readPack(packId, located, async (k, data) => {
      const saved = await repo.saveBlob(located.at(k).type, located.id(k), data, { rewrite: true });
      if (saved.stored) blobsRepacked++;
    });
  }
  // The repacked blobs' packs get their own index file; the kept packs get one more, then the old files go.
  await repo.flush();
  if (plan.keptPacks.length > 0) await repo.writeIndexFile(plan.keptPacks);
  for (const id of plan.oldIndexFiles) await repo.deleteIndexFile(id);
  for (const id of plan.deletePacks) await repo.deletePack(id);

  let bytesAfter = 0;
  for await (const pack of repo.listPacks()) bytesAfter += pack.size;
  return {
    packsDeleted: plan.deletePacks.length,
    packsRepacked: plan.repackBlobs.size,
    blobsRepacked,
    bytesBefore: plan.bytes.total,
    bytesAfter,
    bytesFreed: plan.bytes.total - bytesAfter,
  };
}

/** Every blob id reachable from the snapshots' trees; a blob missing from the index stops the prune. */
async function markUsedBlobs(repo: Repository, snapshots: readonly Snapshot[], signal: AbortSignal | undefined): Promise<Set<string>> {
  const used = new Set<string>();
  const need = (id: string, what: string) => {
    if (!repo.lookupBlob(id)) throw new IntegrityError(`${what} references blob ${id.slice(0, 12)}, which is not in the index of ${repo.adapter.name}: nothing was pruned; check the repository first`);
    used.add(id);
  };
  for (const snapshot of snapshots) {
    if (used.has(snapshot.tree)) continue;
    const stack = [snapshot.tree];
    const what = `backup ${snapshot.id.slice(0, 8)}`;
    need(snapshot.tree, what);
    while (stack.length > 0) {
      if (signal?.aborted) throw new InterruptedError('prune interrupted; nothing was deleted');
      const treeId = stack.pop()!;
      for (const node of await repo.loadTree(treeId)) {
        for (const id of node.content ?? []) need(id, what);
        if (node.subtree && !used.has(node.subtree)) {
          need(node.subtree, what);
          stack.push(node.subtree);
        }
      }
    }
  }
  return used;
}
