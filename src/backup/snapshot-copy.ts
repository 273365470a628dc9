import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { InterruptedError } from '../core/errors.js';

export interface CopyProgress {
  blobs: number;
  bytes: number;
}

/**
 * Copies the blobs a snapshot needs from one repository to another (only those the
 * target lacks, decrypted and re-encrypted with the target's key and compression),
 * then writes the snapshot there. Packs, then index, then snapshot: a copy killed
 * half-way leaves no snapshot in the target.
 */
export async function copySnapshot(
  from: Repository,
  to: Repository,
  snapshot: Snapshot,
  opts: { parent?: string | undefined; signal?: AbortSignal | undefined; onProgress?: (p: CopyProgress) => void } = {},
): Promise<{ id: string; blobs: number; bytes: number }> {
  const progress = { blobs: 0, bytes: 0 };
  const seenTrees = new Set<string>();
  const copyBlob = async (type: 'data' | 'tree', id: string): Promise<Buffer | undefined> => {
    if (opts.signal?.aborted) throw new InterruptedError('copy interrupted');
    if (to.hasBlob(id)) return undefined;
    const data = await from.loadBlob(id);
    await to.saveBlob(type, id, data);
    progress.blobs++;
    progress.bytes += data.length;
    opts.onProgress?.(progress);
    return data;
  };
  const copyTree = async (treeId: string): Promise<void> => {
    if (seenTrees.has(treeId)) return;
    seenTrees.add(treeId);
    // A tree already in the target may still lack content a partial copy never wrote; walk it all.
    for (const node of await from.loadTree(treeId)) {
      for (const id of node.content ?? []) await copyBlob('data', id);
      if (node.subtree) await copyTree(node.subtree);
    }
    await copyBlob('tree', treeId);
  };
  await copyTree(snapshot.tree);
  await to.flush();
  const { id: _id, version: _version, parent: _parent, ...input } = snapshot;
  const id = await to.saveSnapshot({ ...input, ...(opts.parent ? { parent: opts.parent } : {}) });
  return { id, ...progress };
}
