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
  /** Physical postgres sources: WAL files older than the oldest kept base backup, (to be) deleted. */
  wal: { source: string; files: number; before: string }[];
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
  const result: DestinationPruneResult = { destination, decisions, forgotten: forget.length, plan: { usedBlobs: plan.usedBlobs, packs: plan.packs, bytes: plan.bytes }, wal: [] };
  if (!opts.dryRun) result.report = await executePrune(repo, plan, forget, { signal: opts.signal });
  for (const [source, cfg] of Object.entries(config.sources ?? {})) {
    if (cfg.type !== 'postgres' || cfg.mode !== 'physical') continue;
    const expired = await expireWal(repo, source, keep.filter((s) => s.source === source), opts.dryRun);
    if (expired) result.wal.push({ source, ...expired });
  }
  return result;
}

/**
 * WAL older than the oldest kept base backup's start can never be replayed: no base
 * backup is left to replay it onto (pgBackRest expires archive the same way). History
 * files stay; they are tiny and a later timeline switch needs them.
 */
async function expireWal(repo: Repository, source: string, kept: readonly Snapshot[], dryRun: boolean): Promise<{ files: number; before: string } | undefined> {
  const starts = kept.map((s) => startSegment(s)).filter((n): n is string => n !== undefined).sort();
  // No kept base backup (or none that says where it starts): keep everything rather than guess.
  if (starts.length === 0 || starts.length < kept.length) return undefined;
  const before = starts[0]!;
  const old = (await repo.listWal(source)).filter((w) => !w.name.endsWith('.history') && w.name.slice(0, 24) < before);
  if (!dryRun) for (const w of old) await repo.deleteWal(source, w.name);
  return { files: old.length, before };
}

/** The WAL file a base backup starts in, as its backup_label names it. */
function startSegment(snapshot: Snapshot): string | undefined {
  const file = snapshot.meta?.['startWalFile'];
  return typeof file === 'string' && /^[0-9A-F]{24}$/.test(file) ? file : undefined;
}
