import { FAILED_RUN_STATUSES } from '../catalog/runs-table.js';
import type { Destination } from '../runtime/destinations.js';
import type { RepositorySession } from '../runtime/repository-session.js';
import { type BackupContext, sourceNames } from './backup-context.js';
import { syncCatalog, toSummary } from './catalog-sync.js';
import { PostgresWalStore } from '../sources/postgres-wal-store.js';
import { recoverableWindow } from './postgres-pitr.js';

export interface BackupStatus {
  /** The brief's summary: every backup in the catalog, the time of the newest, the bytes stored on all destinations. */
  totalBackups: number;
  lastBackup: string | null;
  storageUsage: number;
  totals: { backups: number; sources: number; destinations: number; bytes: number };
  /** The 3-2-1 rule: 3 copies (the original counts), 2 media, 1 offsite. */
  rule321: { copies: number; media: number; offsite: number; met: boolean };
  /** `missingPaths`: configured paths the last backup could not reach, so it holds only the others. */
  lastPerSource: { source: string; backupId?: string; time?: string; destination?: string; strategy?: string; missingPaths?: string[] }[];
  /** Runs that failed, ended partial, were interrupted, or whose process died. */
  recentFailures: { runId: string; kind: string; status: string; startedAt: string; error: string }[];
  destinations: { name: string; type: string; encrypted: boolean; offsite: boolean; reachable: boolean; backups: number; packs: number; storedBytes: number; compression: string }[];
  /** Physical database sources: the earliest and latest points a point-in-time restore can reach. */
  recoverable: { source: string; destination: string; earliest: string; latest: string }[];
}

/**
 * `backup status`: totals, the last backup of each source, recent failures, storage use
 * per destination and the 3-2-1 state, with the catalog refreshed from every reachable
 * repository first.
 */
export async function getBackupStatus(ctx: BackupContext): Promise<BackupStatus> {
  const destinations = await ctx.destinations();
  const session = ctx.session();
  const perDestination: BackupStatus['destinations'] = [];
  for (const d of destinations) {
    let reachable = true;
    let storedBytes = 0;
    let packs = 0;
    try {
      await syncCatalog(ctx.catalog, await session.open(d), d);
      for await (const obj of d.adapter.list('data/')) {
        storedBytes += obj.size;
        packs++;
      }
    } catch {
      reachable = false;
    }
    const backups = ctx.catalog.backups.list({ destination: d.name });
    perDestination.push({ name: d.name, type: d.type, encrypted: d.encrypted, offsite: d.offsite, reachable, backups: backups.length, packs, storedBytes, compression: d.compression.algorithm });
  }
  const recoverable = await recoverableWindows(ctx, session, destinations).finally(() => session.close());
  const all = ctx.catalog.backups.list({}).map(toSummary);
  const lastPerSource = sourceNames(ctx.config).map((source) => ({ source, last: all.find((b) => b.source === source) }));
  const recentFailures = ctx.catalog.runs
    .list({ limit: 50 })
    .filter((r) => FAILED_RUN_STATUSES.includes(r.status))
    .slice(0, 10);
  // 3-2-1: the original plus the destinations that hold a backup; the original's disk counts as one medium.
  const holding = perDestination.filter((d) => d.backups > 0);
  const rule321 = {
    copies: 1 + holding.length,
    media: new Set(['local', ...holding.map((d) => d.type)]).size,
    offsite: holding.filter((d) => d.offsite).length,
    met: false,
  };
  rule321.met = rule321.copies >= 3 && rule321.media >= 2 && rule321.offsite >= 1;
  return {
    totalBackups: all.length,
    lastBackup: all.reduce<string | null>((newest, b) => (newest === null || b.time > newest ? b.time : newest), null),
    storageUsage: perDestination.reduce((sum, d) => sum + d.storedBytes, 0),
    totals: { backups: all.length, sources: sourceNames(ctx.config).length, destinations: destinations.length, bytes: all.reduce((s, b) => s + b.summary.bytes, 0) },
    rule321,
    lastPerSource: lastPerSource.map(({ source, last }) => ({
      source,
      ...(last ? { backupId: last.id, time: last.time, destination: last.destination, strategy: last.strategy } : {}),
      ...(last?.summary.missingPaths?.length ? { missingPaths: last.summary.missingPaths } : {}),
    })),
    recentFailures: recentFailures.map((r) => ({ runId: r.id, kind: r.kind, status: r.status, startedAt: r.startedAt, error: r.error ?? '' })),
    destinations: perDestination,
    recoverable,
  };
}

/** Per physical postgres source: the window `restore --at` can reach, from the first destination that has base backups. */
async function recoverableWindows(ctx: BackupContext, session: RepositorySession, destinations: Destination[]): Promise<BackupStatus['recoverable']> {
  const out: BackupStatus['recoverable'] = [];
  for (const [source, cfg] of Object.entries(ctx.config.sources ?? {})) {
    if (cfg.type !== 'postgres' || cfg.mode !== 'physical') continue;
    for (const d of destinations) {
      const repo = await session.open(d).catch(() => undefined);
      if (!repo) continue;
      const window = recoverableWindow(
        (await repo.listSnapshots()).filter((s) => s.source === source),
        await new PostgresWalStore(repo, source).list(),
      );
      if (window) {
        out.push({ source, destination: d.name, ...window });
        break;
      }
    }
  }
  return out;
}
