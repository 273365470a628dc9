import { IntegrityError } from '../core/errors.js';
import type { IndexedPack, Repository } from './repository.js';
import type { Snapshot } from './snapshot.js';
import type { TreeNode } from './tree-node.js';

/**
 * Repairs for a repository that lost something. Both run under the exclusive lock and
 * write before they delete, so an interrupted repair leaves the repository no worse.
 */

export interface IndexRepair {
  packs: number;
  blobs: number;
  /** Packs whose header cannot be read: their blobs stay out of the new index. */
  unreadable: { pack: string; problem: string }[];
  oldIndexFiles: number;
}

/** `repair index`: a new index from the packs' own headers, replacing every index file. */
export async function rebuildIndex(repo: Repository, opts: { dryRun?: boolean } = {}): Promise<IndexRepair> {
  const old = await repo.readIndexFiles();
  const packs: IndexedPack[] = [];
  const unreadable: IndexRepair['unreadable'] = [];
  for await (const stored of repo.listPacks()) {
    try {
      packs.push({ id: stored.id, size: stored.size, blobs: await repo.readPackHeader(stored.id, stored.size) });
    } catch (err) {
      if (!(err instanceof IntegrityError || err instanceof SyntaxError)) throw err;
      unreadable.push({ pack: stored.id, problem: err.message });
    }
  }
  const result: IndexRepair = { packs: packs.length, blobs: packs.reduce((n, p) => n + p.blobs.length, 0), unreadable, oldIndexFiles: old.length + repo.damagedIndexFiles.length };
  if (opts.dryRun) return result;
  const written = packs.length > 0 ? await repo.writeIndexFile(packs) : undefined;
  for (const f of [...old, ...repo.damagedIndexFiles]) if (f.id !== written) await repo.deleteIndexFile(f.id);
  return result;
}

export interface SnapshotRepair {
  snapshot: string;
  /** The repaired snapshot that replaces it (absent on a dry run or when nothing was lost). */
  replacedBy?: string;
  /** Paths dropped because their content or listing cannot be read. */
  dropped: string[];
}

/**
 * `repair snapshots`: each snapshot that reaches an unreadable blob is rewritten without
 * the files and directories it cannot restore, saved as a new snapshot tagged
 * `repaired`, and the damaged one is forgotten. Everything restorable is kept.
 */
export async function repairSnapshots(repo: Repository, snapshots: readonly Snapshot[], isLost: (blobId: string) => boolean, opts: { dryRun?: boolean } = {}): Promise<SnapshotRepair[]> {
  const results: SnapshotRepair[] = [];
  const rewritten = new Map<string, { id: string; dropped: string[] } | null>();

  /** The tree without what is lost; null when the tree itself cannot be read. Memoised per tree and path prefix. */
  const rewrite = async (treeId: string, path: string): Promise<{ id: string; dropped: string[] } | null> => {
    const key = `${treeId}\u0000${path}`;
    if (rewritten.has(key)) return rewritten.get(key)!;
    let nodes: TreeNode[];
    try {
      if (isLost(treeId)) throw new IntegrityError('lost');
      nodes = await repo.loadTree(treeId);
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      rewritten.set(key, null);
      return null;
    }
    const kept: TreeNode[] = [];
    const dropped: string[] = [];
    for (const node of nodes) {
      const child = `${path === '/' ? '' : path}/${node.name.toString()}`;
      if (node.content?.some(isLost)) {
        dropped.push(child);
        continue;
      }
      if (node.subtree) {
        const sub = await rewrite(node.subtree, child);
        if (!sub) {
          dropped.push(`${child}/`);
          continue;
        }
        dropped.push(...sub.dropped);
        kept.push(sub.id === node.subtree ? node : { ...node, subtree: sub.id });
        continue;
      }
      kept.push(node);
    }
    const id = dropped.length === 0 ? treeId : opts.dryRun ? treeId : await repo.saveTree(kept);
    const out = { id, dropped };
    rewritten.set(key, out);
    return out;
  };

  for (const snapshot of snapshots) {
    const root = await rewrite(snapshot.tree, '/');
    const dropped = root ? root.dropped : ['/'];
    if (dropped.length === 0) continue;
    const result: SnapshotRepair = { snapshot: snapshot.id, dropped };
    if (!opts.dryRun && root) {
      await repo.flush();
      const { id: _id, version: _version, ...input } = snapshot;
      result.replacedBy = await repo.saveSnapshot({ ...input, tree: root.id, tags: [...new Set([...snapshot.tags, 'repaired'])] });
      await repo.deleteSnapshot(snapshot.id);
    }
    results.push(result);
  }
  return results;
}
