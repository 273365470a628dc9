import { resolve } from 'node:path';
import { BkdrError, IntegrityError, UsageError } from '../core/errors.js';
import { parseTimeExpression } from '../core/time-expression.js';
import type { Repository } from '../repo/repository.js';
import { withRun } from '../runtime/run-recorder.js';
import { createStreamSource } from '../sources/create-stream-source.js';
import type { StreamSource } from '../sources/stream-source.js';
import { type ArchiveExportResult, exportArchive } from './archive-export.js';
import type { BackupContext } from './backup-context.js';
import { findCopyElsewhere, resolveBackup } from './backup-resolution.js';
import type { BackupEvent } from './backup-run.js';
import { type BackupSummary, snapshotSummary } from './catalog-sync.js';
import { restorePointInTime } from './postgres-pitr.js';
import { withRates } from './progress-meter.js';
import { type RestoreResult, restoreTree, UnsafeBackupError } from './restorer.js';
import { streamBackupFile } from './snapshot-stream.js';

export interface RestoreRequest {
  backupId?: string | undefined;
  at?: string | Date | undefined;
  source?: string | undefined;
  destination?: string | undefined;
  targetLocation?: string | undefined;
  include?: string[] | undefined;
  verification?: boolean | undefined;
  force?: boolean | undefined;
  archive?: string | undefined;
  /** Database and command sources: restore into this database (created when missing). */
  targetDatabase?: string | undefined;
  /** Command sources: pipe the backup into the configured restoreCommand. */
  pipe?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Called with the run's id once it is recorded, before anything is written (the API returns it at once). */
  onCreated?: ((runId: string) => void) | undefined;
}

export interface RestoreOutcome {
  runId: string;
  backup: BackupSummary;
  /** Why this backup was picked (for --at). */
  picked?: string;
  restore?: RestoreResult;
  archive?: ArchiveExportResult;
  /** Restores into a database or command: what was done. */
  into?: string;
  /**
   * The point in time the restored data stands at: the backup's time, or for a
   * PostgreSQL data directory the recovery target (else the end of the archived WAL).
   * A DR execution's achieved RPO is measured against it.
   */
  pointInTime: string;
}

/**
 * `restore`: a backup (by id, or the newest of a source at or before a time) into a
 * folder, an archive, a database or a restore command; a blob that fails its check on
 * one destination is read from another that holds the same backup.
 */
export async function restoreFromBackup(ctx: BackupContext, req: RestoreRequest, listener: (e: BackupEvent) => void = () => undefined): Promise<RestoreOutcome> {
  const onEvent = withRates(listener, ctx.clock);
  const physical = req.source ? ctx.config.sources?.[req.source] : undefined;
  if (physical?.type === 'postgres' && physical.mode === 'physical' && req.targetLocation && !req.archive && !req.backupId) return restorePostgresDataDirectory(ctx, req, req.source!);
  const intoSource = req.targetDatabase !== undefined || req.pipe === true;
  if (!req.archive && !req.targetLocation && !intoSource)
    throw new UsageError('a restore needs a place to write to', { remedy: [{ option: 'target' }, { option: 'archive' }, { option: 'targetDatabase' }, { option: 'pipe' }] });
  const session = ctx.session();
  // Not found: the repositories it opened (and locked) to look are let go before the error reaches the caller.
  const { repo, snapshot, destination, picked } = await resolveBackup(ctx, session, req, 'shared').catch(async (err: unknown) => {
    await session.close();
    throw err;
  });
  return withRun(ctx.runStores, {
    start: { kind: 'restore', source: snapshot.source, destinations: [destination.name] },
    onCreated: req.onCreated,
    cleanup: () => session.close(),
    work: async (run) => {
      const target = req.targetDatabase !== undefined ? `database ${req.targetDatabase}` : req.pipe ? 'restore command' : (req.targetLocation ?? req.archive);
      run.log('info', `restore of ${snapshot.id.slice(0, 8)} from ${destination.name}`, { picked, target });
      const outcome: RestoreOutcome = { runId: run.id, backup: snapshotSummary(snapshot, destination.name), pointInTime: snapshot.time, ...(picked ? { picked } : {}) };
      const restoreFrom = async (from: Repository, force: boolean | undefined) => {
        if (intoSource) {
          const source = streamSourceOf(ctx, snapshot.source);
          if (!source.restore) throw new UsageError(`source ${snapshot.source} cannot be restored into a database or command`, { remedy: { option: 'target', to: 'restore it to a file' } });
          const { stream } = await streamBackupFile(from, snapshot);
          outcome.into = await source.restore(stream, { database: req.targetDatabase, pipe: req.pipe, force }, req.signal);
        } else if (req.archive) outcome.archive = await exportArchive(from, snapshot.tree, req.archive, { force: force ?? false });
        else {
          outcome.restore = await restoreTree({
            repo: from,
            backupId: snapshot.id,
            tree: snapshot.tree,
            target: req.targetLocation ?? '',
            include: req.include,
            force,
            verify: req.verification,
            signal: req.signal,
            onProgress: (p) => onEvent({ type: 'restore-progress', ...p }),
          });
          for (const w of outcome.restore.warnings) run.log('warn', w);
        }
      };
      try {
        await restoreFrom(repo, req.force);
      } catch (err) {
        // A blob that fails its check: another destination holding the same backup takes over,
        // rewriting what the failed attempt wrote. Not when the caller named the destination.
        const fallback = err instanceof IntegrityError && !(err instanceof UnsafeBackupError) && !req.destination ? await findCopyElsewhere(ctx, session, snapshot, destination) : undefined;
        if (!fallback) throw err;
        ctx.logger.warn(`${(err as Error).message}; restoring from ${fallback.destination.name} instead`);
        run.log('warn', `${(err as Error).message}; fell over to ${fallback.destination.name}`);
        await restoreFrom(fallback.repo, true);
        outcome.backup = snapshotSummary(fallback.snapshot, fallback.destination.name);
        outcome.pointInTime = fallback.snapshot.time;
      }
      return outcome;
    },
    outcome: (outcome) => {
      const mismatches = outcome.restore?.verified?.mismatches ?? [];
      return {
        status: mismatches.length > 0 ? 'failed' : 'succeeded',
        // bytes: past restores' throughput gives a DR execution its ETA.
        summary: { backup: snapshot.id, target: req.targetLocation ?? req.archive, mismatches, ...(outcome.restore ? { bytes: outcome.restore.bytes } : {}) },
        audit: { action: 'restore', target: req.targetLocation ?? req.archive ?? '', payload: { runId: outcome.runId, backup: snapshot.id, destination: destination.name } },
      };
    },
  });
}

/**
 * A physical postgres source: the newest base backup before `at` into a data
 * directory, with recovery settings that replay archived WAL up to `at`.
 */
async function restorePostgresDataDirectory(ctx: BackupContext, req: RestoreRequest, source: string): Promise<RestoreOutcome> {
  const at = req.at === undefined ? undefined : req.at instanceof Date ? req.at : parseTimeExpression(req.at);
  const destinations = await ctx.destinations(req.destination ? [req.destination] : undefined);
  const session = ctx.session();
  return withRun(ctx.runStores, {
    start: { kind: 'restore', source, destinations: destinations.map((d) => d.name) },
    onCreated: req.onCreated,
    cleanup: () => session.close(),
    work: async (run): Promise<RestoreOutcome & { restored: Awaited<ReturnType<typeof restorePointInTime>>; destination: string }> => {
      let lastError: unknown;
      for (const destination of destinations) {
        try {
          const repo = await session.open(destination, { lock: { mode: 'shared', operation: 'restore' } });
          if (!repo) continue;
          const restored = await restorePointInTime({
            repo,
            source,
            configPath: ctx.configPath,
            at,
            target: resolve(req.targetLocation!),
            force: req.force,
            passwordFileForRecovery: ctx.passwordFile,
            signal: req.signal,
          });
          const b = restored.baseBackup;
          const into = `base backup ${b.id.slice(0, 8)} (ended ${b.endTime}) restored into ${restored.target}; ${restored.recoveryTarget ? `recovery to ${restored.recoveryTarget}` : 'recovery to the end of the archived WAL'} is configured: start PostgreSQL on it (recoverable window ${restored.window.earliest} to ${restored.window.latest})`;
          return {
            runId: run.id,
            backup: snapshotSummary(b, destination.name),
            picked: `picked base backup ${b.id.slice(0, 8)} from ${destination.name}`,
            into,
            pointInTime: restored.recoveryTarget ?? restored.window.latest,
            restored,
            destination: destination.name,
          };
        } catch (err) {
          // Outside the window, a non-empty target: the same on every destination.
          if (err instanceof UsageError && !/no base backup/.test(err.message)) throw err;
          lastError = err;
        }
      }
      throw lastError instanceof BkdrError ? lastError : new UsageError(`no base backup of ${source} on ${destinations.map((d) => d.name).join(', ')}`);
    },
    outcome: ({ restored, destination, runId }) => ({
      status: 'succeeded',
      summary: { backup: restored.baseBackup.id, target: restored.target, recoveryTarget: restored.recoveryTarget, window: restored.window },
      audit: { action: 'restore', target: restored.target, payload: { runId, backup: restored.baseBackup.id, destination, recoveryTarget: restored.recoveryTarget } },
    }),
  }).then(({ restored: _restored, destination: _destination, ...outcome }) => outcome);
}

/** The configured stream source (database, command) of a backup's source name. */
function streamSourceOf(ctx: BackupContext, source: string): StreamSource {
  const config = ctx.config.sources?.[source];
  if (!config) throw new UsageError(`source ${source} is not in the config`, { remedy: { option: 'target', to: 'restore its backup to a file' } });
  if (config.type === 'files') throw new UsageError(`source ${source} is a files source`, { remedy: { option: 'target', to: 'restore it' } });
  return createStreamSource(source, config, ctx.configDir);
}
