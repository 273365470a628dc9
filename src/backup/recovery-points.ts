import type { BackupContext } from './backup-context.js';
import { syncCatalog } from './catalog-sync.js';
import { recoverableWindow } from './postgres-pitr.js';
import { findWalGaps } from './wal-archive.js';
import { PostgresWalStore } from '../sources/postgres-wal-store.js';
import { UsageError } from '../core/errors.js';

/** What a source can be restored to right now: the DR preflight's question. */
export interface RecoveryPoints {
  source: string;
  /** `point-in-time`: a physical PostgreSQL source (base backups + archived WAL); `backups`: any other. */
  kind: 'point-in-time' | 'backups';
  /** The destination the answer comes from (the first that holds backups of the source). */
  destination?: string;
  /** The earliest and latest points a restore reaches; absent without any backup. */
  earliest?: string;
  latest?: string;
  /** Bytes of the newest backup: what a restore writes (room on the target, ETA). */
  newestBytes?: number;
  /** Point in time only: missing WAL segments; recovery cannot replay past the first. */
  walGaps: { timeline: string; from: string; to: string }[];
}

/** Reads the repositories (the truth), one destination after another, until one holds backups of the source. */
export async function recoveryPoints(ctx: BackupContext, source: string, destination?: string): Promise<RecoveryPoints> {
  const config = ctx.config.sources?.[source];
  if (!config) throw new UsageError(`source ${source} is not in the config`);
  const pointInTime = config.type === 'postgres' && config.mode === 'physical';
  const session = ctx.session();
  try {
    for (const d of await ctx.destinations(destination ? [destination] : undefined)) {
      const repo = await session.open(d).catch(() => undefined);
      if (!repo) continue;
      const snapshots = (await repo.listSnapshots()).filter((s) => s.source === source);
      if (snapshots.length === 0) continue;
      await syncCatalog(ctx.catalog, repo, d);
      const newest = [...snapshots].sort((a, b) => a.time.localeCompare(b.time)).at(-1)!;
      if (!pointInTime) {
        return { source, kind: 'backups', destination: d.name, earliest: snapshots.map((s) => s.time).sort()[0]!, latest: newest.time, newestBytes: newest.summary.bytes, walGaps: [] };
      }
      const wal = await new PostgresWalStore(repo, source).list();
      const window = recoverableWindow(snapshots, wal)!;
      return { source, kind: 'point-in-time', destination: d.name, earliest: window.earliest, latest: window.latest, newestBytes: newest.summary.bytes, walGaps: findWalGaps(wal) };
    }
    return { source, kind: pointInTime ? 'point-in-time' : 'backups', walGaps: [] };
  } finally {
    await session.close();
  }
}
