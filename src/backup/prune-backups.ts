import { type DestinationFailure, eachDestination, fanOutStatus } from '../runtime/destination-fan-out.js';
import { withRun } from '../runtime/run-recorder.js';
import type { BackupContext } from './backup-context.js';
import { syncCatalog } from './catalog-sync.js';
import { type DestinationPruneResult, type PruneSafety, pruneRepository, RetentionRefusedError } from './retention-prune.js';

export interface PruneResult {
  runId: string;
  dryRun: boolean;
  status: 'succeeded' | 'partial' | 'failed';
  destinations: DestinationPruneResult[];
  /** `refused`: retention would have forgotten every non-empty backup of a source there; nothing was pruned on it. */
  failures: (DestinationFailure & { refused?: boolean })[];
}

/**
 * `backup prune`: retention per source on every destination, then deletion of data no
 * kept backup needs. Holds each repository's exclusive lock (a dry run: a shared one),
 * one destination at a time.
 */
export async function pruneBackups(
  ctx: BackupContext,
  opts: { dryRun?: boolean | undefined; destinations?: string[] | undefined; signal?: AbortSignal | undefined } & PruneSafety = {},
): Promise<PruneResult> {
  const dryRun = opts.dryRun ?? false;
  const destinations = await ctx.destinations(opts.destinations);
  const session = ctx.session();
  return withRun(ctx.runStores, {
    start: { kind: 'prune', destinations: destinations.map((d) => d.name) },
    cleanup: () => session.close(),
    work: async (run) => {
      const { results, failures } = await eachDestination<DestinationPruneResult, PruneResult['failures'][number]>(
        destinations,
        async (destination) => {
          const repo = await session.open(destination, { lock: { mode: dryRun ? 'shared' : 'exclusive', operation: 'prune' } });
          if (!repo) return undefined;
          const pruned = await pruneRepository(repo, destination.name, ctx.config, { dryRun, signal: opts.signal, force: opts.force, countEmpty: opts.countEmpty });
          if (!dryRun) await syncCatalog(ctx.catalog, repo, destination);
          run.log('info', `${destination.name}: ${dryRun ? 'would forget' : 'forgot'} ${pruned.forgotten} backups${pruned.report ? `, freed ${pruned.report.bytesFreed} bytes` : ''}`, {
            packs: pruned.plan.packs,
          });
          return pruned;
        },
        {
          // Release this destination's lock before the next one: a prune of many destinations holds one at a time.
          after: (destination) => session.release(destination),
          describe: (failure, err) => (err instanceof RetentionRefusedError ? { ...failure, refused: true } : failure),
          onFailure: (f) => run.log('error', `${f.destination}: ${f.error}`),
        },
      );
      return { runId: run.id, dryRun, status: fanOutStatus(results.length, failures.length), destinations: results, failures };
    },
    outcome: (result) => ({
      status: result.status,
      ...(result.failures.length > 0 ? { error: result.failures.map((f) => `${f.destination}: ${f.error}`).join('; ') } : {}),
      summary: { dryRun, destinations: result.destinations.map((d) => ({ destination: d.destination, forgotten: d.forgotten, bytesFreed: d.report?.bytesFreed ?? 0 })) },
      audit: dryRun
        ? undefined
        : {
            action: 'backup.prune',
            target: destinations.map((d) => d.name).join(','),
            // forced: past the retention's safety (--force); compliance (SOX BR-08) looks for it.
            payload: { runId: result.runId, forced: opts.force ?? false, forgotten: result.destinations.flatMap((d) => d.decisions.filter((x) => !x.keep).map((x) => x.id)) },
          },
    }),
  });
}
