import type { BkdrConfig } from '../config/schema.js';
import { executePrune, planPrune, type PrunePlan, type PruneReport } from '../repo/prune.js';
import type { Repository } from '../repo/repository.js';
import { applyRetention, type RetentionPolicy, type RetentionRule } from '../repo/retention-policy.js';
import type { Snapshot } from '../repo/snapshot.js';

export interface RetentionDecisionRow {
  id: string;
  source: string;
  time: string;
  strategy: string;
  keep: boolean;
  reasons: RetentionRule[];
}

export interface DestinationPruneResult {
  destination: string;
  decisions: RetentionDecisionRow[];
  forgotten: number;
  plan: Pick<PrunePlan, 'usedBlobs' | 'packs' | 'bytes'>;
  /** Absent on a dry run. */
  report?: PruneReport;
}

/** The policy for one source: its own `retention`, else the config's; none keeps everything. */
export function retentionFor(config: BkdrConfig, source: string): RetentionPolicy {
  return config.sources?.[source]?.retention ?? config.retention ?? {};
}

/** Days begin where the schedule says they do, when it names a time zone; else in the host's zone. */
function retentionTimeZone(config: BkdrConfig): string | undefined {
  return config.schedule?.type === 'cron' ? config.schedule.timezone : undefined;
}

/** Applies retention per source on one repository, then deletes (or, dry, measures) what nothing kept needs. */
export async function pruneRepository(repo: Repository, destination: string, config: BkdrConfig, opts: { dryRun: boolean; signal?: AbortSignal | undefined }): Promise<DestinationPruneResult> {
  const snapshots = await repo.listSnapshots();
  const bySource = new Map<string, Snapshot[]>();
  for (const s of snapshots) bySource.set(s.source, [...(bySource.get(s.source) ?? []), s]);
  const decisions: RetentionDecisionRow[] = [];
  const keep: Snapshot[] = [];
  const forget: string[] = [];
  for (const [source, group] of bySource) {
    for (const d of applyRetention(group, retentionFor(config, source), retentionTimeZone(config))) {
      decisions.push({ id: d.snapshot.id, source, time: d.snapshot.time, strategy: d.snapshot.strategy, keep: d.keep, reasons: d.reasons });
      if (d.keep) keep.push(d.snapshot);
      else forget.push(d.snapshot.id);
    }
  }
  decisions.sort((a, b) => a.source.localeCompare(b.source) || b.time.localeCompare(a.time));
  const plan = await planPrune(repo, keep, { signal: opts.signal });
  const result: DestinationPruneResult = { destination, decisions, forgotten: forget.length, plan: { usedBlobs: plan.usedBlobs, packs: plan.packs, bytes: plan.bytes } };
  if (!opts.dryRun) result.report = await executePrune(repo, plan, forget, { signal: opts.signal });
  return result;
}
