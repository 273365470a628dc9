import { checkRepository, takeInventory } from '../repo/check.js';
import { type IndexRepair, rebuildIndex, repairSnapshots, type SnapshotRepair } from '../repo/repair.js';
import { withRun } from '../runtime/run-recorder.js';
import type { BackupContext } from './backup-context.js';
import { syncCatalog } from './catalog-sync.js';
import { onEachRepository } from './each-repository.js';

export interface RepairResult {
  destination: string;
  index?: IndexRepair;
  snapshots?: SnapshotRepair[];
}

/**
 * `backup repair index`: a new index from the packs' headers. `backup repair snapshots`:
 * every backup that reaches data that cannot be read (after reading every pack) is
 * rewritten without the files it cannot restore. Exclusive lock; a dry run changes nothing.
 */
export function repairRepositories(ctx: BackupContext, what: 'index' | 'snapshots', opts: { dryRun?: boolean | undefined; destinations?: string[] | undefined } = {}): Promise<RepairResult[]> {
  const dryRun = opts.dryRun ?? false;
  return withRun(ctx.runStores, {
    start: { kind: `repair-${what}` },
    work: () =>
      onEachRepository(
        ctx,
        opts.destinations,
        `repair ${what}`,
        async (repo, d): Promise<RepairResult> => {
          if (what === 'index') return { destination: d.name, index: await rebuildIndex(repo, { dryRun }) };
          const snapshots = await repo.listSnapshots();
          const inventory = await takeInventory(repo);
          const report = await checkRepository(repo, snapshots, { inventory, readPacks: new Set(inventory.stored.keys()) });
          const unreadable = new Set(report.unreadableBlobs);
          const repaired = await repairSnapshots(repo, snapshots, (id) => !repo.lookupBlob(id) || unreadable.has(id), { dryRun });
          if (!dryRun) await syncCatalog(ctx.catalog, repo, d);
          return { destination: d.name, snapshots: repaired };
        },
        { mode: dryRun ? 'shared' : 'exclusive', tolerateDamagedIndex: true },
      ),
    outcome: (results, run) => ({
      status: 'succeeded',
      summary: { dryRun, results },
      audit: dryRun ? undefined : { action: `backup.repair.${what}`, target: results.map((r) => r.destination).join(','), payload: { runId: run.id } },
    }),
  });
}
