import type { Catalog } from '../catalog/catalog.js';
import { parseTimeExpression } from '../core/time-expression.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import type { Destination } from '../runtime/destinations.js';
import type { BackupContext } from './backup-context.js';

export interface BackupSummary {
  id: string;
  destination: string;
  source: string;
  strategy: string;
  parent?: string | undefined;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
  summary: Snapshot['summary'];
}

/** Makes the catalog's list of one destination's backups what its repository holds (the repository is the truth). */
export async function syncCatalog(catalog: Catalog, repo: Repository | undefined, destination: Destination): Promise<void> {
  if (!repo) return;
  const snapshots = await repo.listSnapshots();
  const present = new Set(snapshots.map((s) => s.id));
  const cached = new Set(catalog.backups.list({ destination: destination.name }).map((b) => b.id));
  for (const s of snapshots) if (!cached.has(s.id)) cacheBackup(catalog, destination, repo, s);
  for (const id of cached) if (!present.has(id)) catalog.backups.delete(destination.name, id);
}

export function cacheBackup(catalog: Catalog, destination: Destination, repo: Repository, s: Snapshot, runId?: string): void {
  catalog.backups.upsert({
    id: s.id,
    destination: destination.name,
    repositoryId: repo.id,
    source: s.source,
    strategy: s.strategy,
    parentId: s.parent ?? null,
    time: s.time,
    hostname: s.hostname,
    paths: s.paths,
    tags: s.tags,
    files: s.summary.files,
    dirs: s.summary.dirs,
    bytes: s.summary.bytes,
    addedBytes: s.summary.addedBytes,
    storedBytes: s.summary.storedBytes,
    runId: runId ?? null,
    summary: s.summary,
  });
}

/**
 * `catalog rebuild`: refills the catalog's list of backups from the repositories (the
 * source of truth), e.g. on a fresh machine with only the config and the password.
 */
export async function rebuildCatalog(ctx: BackupContext, from?: string[]): Promise<{ destination: string; backups: number; added: number; removed: number }[]> {
  const session = ctx.session();
  const rebuilt: { destination: string; backups: number; added: number; removed: number }[] = [];
  try {
    for (const d of await ctx.destinations(from)) {
      const repo = await session.open(d);
      if (!repo) continue;
      const before = new Set(ctx.catalog.backups.list({ destination: d.name }).map((b) => b.id));
      await syncCatalog(ctx.catalog, repo, d);
      const after = new Set(ctx.catalog.backups.list({ destination: d.name }).map((b) => b.id));
      rebuilt.push({ destination: d.name, backups: after.size, added: [...after].filter((id) => !before.has(id)).length, removed: [...before].filter((id) => !after.has(id)).length });
    }
  } finally {
    await session.close();
  }
  ctx.catalog.audit.append({ action: 'catalog.rebuild', target: rebuilt.map((r) => r.destination).join(','), payload: { backups: rebuilt.reduce((n, r) => n + r.backups, 0) } });
  return rebuilt;
}

/** Lists backups, refreshing the catalog from each reachable repository first (the repository is the truth). */
export async function listBackups(ctx: BackupContext, filter: { source?: string | undefined; destination?: string | undefined; since?: string | Date | undefined } = {}): Promise<BackupSummary[]> {
  const destinations = await ctx.destinations(filter.destination ? [filter.destination] : undefined);
  const session = ctx.session();
  try {
    for (const destination of destinations) await syncCatalog(ctx.catalog, await session.open(destination), destination);
  } finally {
    await session.close();
  }
  const since = filter.since === undefined ? undefined : filter.since instanceof Date ? filter.since : parseTimeExpression(filter.since);
  return ctx.catalog.backups
    .list({
      ...(filter.source ? { source: filter.source } : {}),
      ...(filter.destination ? { destination: filter.destination } : {}),
      ...(since ? { since } : {}),
    })
    .map(toSummary);
}

export function snapshotSummary(s: Snapshot, destination: string): BackupSummary {
  return { id: s.id, destination, source: s.source, strategy: s.strategy, parent: s.parent, time: s.time, hostname: s.hostname, paths: s.paths, tags: s.tags, summary: s.summary };
}

export function toSummary(b: ReturnType<Catalog['backups']['list']>[number]): BackupSummary {
  return {
    id: b.id,
    destination: b.destination,
    source: b.source,
    strategy: b.strategy,
    parent: b.parentId ?? undefined,
    time: b.time,
    hostname: b.hostname,
    paths: b.paths,
    tags: b.tags,
    summary: b.summary as Snapshot['summary'],
  };
}
