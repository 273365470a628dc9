import { BkdrError, UsageError } from '../core/errors.js';
import { parseTimeExpression } from '../core/time-expression.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import type { Destination } from '../runtime/destinations.js';
import type { LockMode, RepositorySession } from '../runtime/repository-session.js';
import { type BackupContext, selectSources } from './backup-context.js';

/** Finds the backup a restore or show means: by id, or the newest of a source at or before a time. */
export async function resolveBackup(
  ctx: BackupContext,
  session: RepositorySession,
  req: { backupId?: string | undefined; at?: string | Date | undefined; source?: string | undefined; destination?: string | undefined },
  lock: LockMode = 'none',
): Promise<{ repo: Repository; snapshot: Snapshot; destination: Destination; picked?: string }> {
  const destinations = await ctx.destinations(req.destination ? [req.destination] : undefined);
  if (req.source) selectSources(ctx.config, req.source);
  const at = req.at === undefined ? undefined : req.at instanceof Date ? req.at : parseTimeExpression(req.at);
  let lastError: unknown;
  // Without an id: the newest backup at or before `at` across every reachable destination (a
  // run that failed on the first destination leaves its newest backup on another); ties go to priority.
  let best: { repo: Repository; snapshot: Snapshot; destination: Destination } | undefined;
  const matchedSources = new Set<string>();
  for (const destination of destinations) {
    let repo: Repository | undefined;
    try {
      repo = await session.open(destination, { lock: { mode: lock, operation: 'restore' } });
    } catch (err) {
      if (err instanceof BkdrError && (err.exitCode === 2 || err.exitCode === 4)) throw err;
      lastError = err;
      // Fall over to the next destination by priority, and say so.
      ctx.logger.warn(`destination ${destination.name} unreachable (${(err as Error).message}); trying the next one`);
      continue;
    }
    if (!repo) continue;
    if (req.backupId) {
      try {
        return { repo, snapshot: await repo.loadSnapshot(req.backupId), destination };
      } catch (err) {
        lastError = err;
        continue;
      }
    }
    const candidates = (await repo.listSnapshots()).filter((s) => (!req.source || s.source === req.source) && (!at || new Date(s.time).getTime() <= at.getTime()));
    for (const s of candidates) matchedSources.add(s.source);
    const snapshot = candidates.at(-1);
    if (snapshot && (!best || snapshot.time > best.snapshot.time)) best = { repo, snapshot, destination };
  }
  if (!req.source && matchedSources.size > 1) throw new UsageError(`backups of several sources (${[...matchedSources].join(', ')}) match:`, { remedy: { option: 'source' } });
  if (best) {
    const { snapshot, destination } = best;
    const picked = `picked backup ${snapshot.id.slice(0, 8)} of ${snapshot.source} taken ${snapshot.time} from ${destination.name}${at ? ` (newest at or before ${at.toISOString()})` : ' (newest)'}`;
    return { ...best, picked };
  }
  if (lastError instanceof BkdrError) throw lastError;
  if (req.backupId) throw new UsageError(`no backup ${req.backupId} on ${destinations.map((d) => d.name).join(', ')}`);
  throw new UsageError(`no backup${req.source ? ` of ${req.source}` : ''}${at ? ` taken at or before ${at.toISOString()}` : ''} on ${destinations.map((d) => d.name).join(', ')}`);
}

/** The same backup (source, time and tree) on another reachable destination, by priority. */
export async function findCopyElsewhere(
  ctx: BackupContext,
  session: RepositorySession,
  snapshot: Snapshot,
  except: Destination,
): Promise<{ repo: Repository; snapshot: Snapshot; destination: Destination } | undefined> {
  for (const destination of await ctx.destinations(undefined)) {
    if (destination.name === except.name) continue;
    try {
      const repo = await session.open(destination, { lock: { mode: 'shared', operation: 'restore' } });
      const match = repo ? (await repo.listSnapshots()).find((s) => s.source === snapshot.source && s.time === snapshot.time && s.tree === snapshot.tree) : undefined;
      if (repo && match) return { repo, snapshot: match, destination };
    } catch {
      // Unreachable too: try the next one.
    }
  }
  return undefined;
}
