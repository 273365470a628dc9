import { UsageError } from '../core/errors.js';
import type { TreeNode } from '../repo/tree-node.js';
import type { BackupContext } from './backup-context.js';
import { resolveBackup } from './backup-resolution.js';
import { type BackupSummary, snapshotSummary } from './catalog-sync.js';
import { findNode, walkSnapshotTree } from './snapshot-walk.js';

export interface LsEntry {
  path: string;
  type: string;
  mode: string;
  size: number;
  mtime: string;
  linkTarget?: string;
}

/** `backup show`: one backup's summary and, with `ls`, its entries (all, or those under a path). */
export async function showBackup(
  ctx: BackupContext,
  backupId: string,
  opts: { ls?: string | boolean | undefined; destination?: string | undefined } = {},
): Promise<{ backup: BackupSummary; entries?: LsEntry[] }> {
  const session = ctx.session();
  try {
    const { repo, snapshot, destination } = await resolveBackup(ctx, session, { backupId, destination: opts.destination });
    const backup = snapshotSummary(snapshot, destination.name);
    if (opts.ls === undefined || opts.ls === false) return { backup };
    const entries: LsEntry[] = [];
    const under = typeof opts.ls === 'string' ? opts.ls : '/';
    const start = under === '/' ? { node: undefined, treeId: snapshot.tree } : await findNode(repo, snapshot.tree, under);
    if (under !== '/' && !start.node) throw new UsageError(`${under} is not in backup ${snapshot.id.slice(0, 8)}`);
    if (start.node && start.node.type !== 'dir') {
      entries.push(lsEntry(under, start.node));
    } else {
      const base = Buffer.from(under === '/' ? '' : under.replace(/\/+$/, ''));
      for await (const { path, node } of walkSnapshotTree(repo, start.treeId, base)) entries.push(lsEntry(path.toString(), node));
    }
    return { backup, entries };
  } finally {
    await session.close();
  }
}

function lsEntry(path: string, node: TreeNode): LsEntry {
  return {
    path,
    type: node.type,
    mode: `0${node.mode.toString(8)}`,
    size: node.size ?? 0,
    mtime: new Date(Number(node.mtimeNs / 1_000_000n)).toISOString(),
    ...(node.linkTarget ? { linkTarget: node.linkTarget.toString() } : {}),
  };
}
