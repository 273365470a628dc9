import type { BkdrConfig } from '../config/schema.js';
import { UsageError } from '../core/errors.js';
import { executePrune, planPrune, type PrunePlan, type PruneReport } from '../repo/prune.js';
import type { Repository } from '../repo/repository.js';
import { applyRetention, type RetentionPolicy, type RetentionRule } from '../repo/retention-policy.js';
import type { Snapshot } from '../repo/snapshot.js';
import { PostgresWalStore } from '../sources/postgres-wal-store.js';

export interface RetentionDecisionRow {
  id: string;
  source: string;
  time: string;
  strategy: string;
  keep: boolean;
  reasons: RetentionRule[];
  /** Set when the backup did not take part in retention's rules, and why. */
  uncounted?: string;
}

export interface PruneSafety {
  /** Let empty backups taken after non-empty ones count toward `last` and the periods. */
  countEmpty?: boolean | undefined;
  /** Prune even where retention would forget every non-empty backup of a source. */
  force?: boolean | undefined;
}

/** Retention would leave a source with no backup that holds anything: nothing was pruned on that destination. */
export class RetentionRefusedError extends UsageError {
  constructor(
    readonly source: string,
    destination: string,
    newest: Snapshot,
  ) {
    super(
      `retention would forget every non-empty backup of source ${source} on ${destination} (the newest, ${newest.id.slice(0, 8)} of ${newest.time}, has ${newest.summary.files} files); nothing was pruned there`,
    );
  }
}

const EMPTY_AFTER_DATA = 'empty, taken after a backup that was not: not counted toward retention';

/**
 * Splits one source's backups into those retention counts and empty ones taken after
 * a non-empty one. Such a backup is most often a source that was not there (a disk that
 * did not mount, a folder deleted by mistake); counted, two of them under `last: 2`
 * would forget the real one. They hold nothing, so forgetting them loses nothing.
 */
function splitEmptyAfterData(group: readonly Snapshot[]): { counted: Snapshot[]; emptyAfterData: Snapshot[] } {
  const counted: Snapshot[] = [];
  const emptyAfterData: Snapshot[] = [];
  let sawData = false;
  for (const s of [...group].sort((a, b) => a.time.localeCompare(b.time))) {
    if (isEmptyBackup(s) && sawData) emptyAfterData.push(s);
    else counted.push(s);
    sawData ||= !isEmptyBackup(s);
  }
  return { counted, emptyAfterData };
}

function isEmptyBackup(s: Snapshot): boolean {
  return s.summary.files === 0;
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
export async function pruneRepository(
  repo: Repository,
  destination: string,
  config: BkdrConfig,
  opts: { dryRun: boolean; signal?: AbortSignal | undefined } & PruneSafety,
): Promise<DestinationPruneResult> {
  const snapshots = await repo.listSnapshots();
  const bySource = new Map<string, Snapshot[]>();
  for (const s of snapshots) bySource.set(s.source, [...(bySource.get(s.source) ?? []), s]);
  const decisions: RetentionDecisionRow[] = [];
  const keep: Snapshot[] = [];
  const forget: string[] = [];
  for (const [source, group] of bySource) {
    const { counted, emptyAfterData } = opts.countEmpty ? { counted: group, emptyAfterData: [] } : splitEmptyAfterData(group);
    const decided = applyRetention(counted, retentionFor(config, source), retentionTimeZone(config));
    const withData = group.filter((s) => !isEmptyBackup(s));
    if (!opts.force && withData.length > 0 && !decided.some((d) => d.keep && !isEmptyBackup(d.snapshot))) {
      throw new RetentionRefusedError(source, destination, withData.sort((a, b) => b.time.localeCompare(a.time))[0]!);
    }
    for (const d of decided) {
      decisions.push({ id: d.snapshot.id, source, time: d.snapshot.time, strategy: d.snapshot.strategy, keep: d.keep, reasons: d.reasons });
      if (d.keep) keep.push(d.snapshot);
      else forget.push(d.snapshot.id);
    }
    for (const s of emptyAfterData) {
      decisions.push({ id: s.id, source, time: s.time, strategy: s.strategy, keep: false, reasons: [], uncounted: EMPTY_AFTER_DATA });
      forget.push(s.id);
    }
  }
  decisions.sort((a, b) => a.source.localeCompare(b.source) || b.time.localeCompare(a.time));
  const plan = await planPrune(repo, keep, { signal: opts.signal });
  const result: DestinationPruneResult = { destination, decisions, forgotten: forget.length, plan: { usedBlobs: plan.usedBlobs, packs: plan.packs, bytes: plan.bytes }, wal: [] };
  if (!opts.dryRun) result.report = await executePrune(repo, plan, forget, { signal: opts.signal });
  for (const [source, cfg] of Object.entries(config.sources ?? {})) {
    if (cfg.type !== 'postgres' || cfg.mode !== 'physical') continue;
    const expired = await expireWal(
      repo,
      source,
      keep.filter((s) => s.source === source),
      opts.dryRun,
    );
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
  const starts = kept
    .map((s) => startSegment(s))
    .filter((n): n is string => n !== undefined)
    .sort();
  // No kept base backup (or none that says where it starts): keep everything rather than guess.
  if (starts.length === 0 || starts.length < kept.length) return undefined;
  const before = starts[0]!;
  const wal = new PostgresWalStore(repo, source);
  const old = (await wal.list()).filter((w) => !w.name.endsWith('.history') && w.name.slice(0, 24) < before);
  if (!dryRun) for (const w of old) await wal.delete(w.name);
  return { files: old.length, before };
}

/** The WAL file a base backup starts in, as its backup_label names it. */
function startSegment(snapshot: Snapshot): string | undefined {
  const file = snapshot.meta?.['startWalFile'];
  return typeof file === 'string' && /^[0-9A-F]{24}$/.test(file) ? file : undefined;
}
