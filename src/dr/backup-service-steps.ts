import { resolve } from 'node:path';
import { ConfigError, OperationError } from '../core/errors.js';
import type { StepContext, StepExecutor, StepOfType, StepOutcome } from './step-executor.js';
import type { BackupManager } from '../backup/backup-manager.js';

/** The steps that run through the backup service: restore, backup, verify. */
export type RestoreStep = StepOfType<'restore'>;
export type BackupStep = StepOfType<'backup'>;
export type VerifyStep = StepOfType<'verify'>;

/** A backup id as `backup list` prints it (8 hex digits or more); anything else in `at` is a time. */
const BACKUP_ID = /^[0-9a-f]{8,64}$/;

export function backupService(ctx: StepContext, stepId: string): BackupManager {
  if (!ctx.backup) throw new ConfigError('', `step ${stepId} needs the backup service, which this execution was not given`);
  return ctx.backup;
}

/**
 * What a restore step restores from: `at` as a backup id, a time, or 'latest' (the
 * default), where 'latest' yields to `dr trigger --at` when one was given.
 */
export function restoreSelection(step: RestoreStep, ctx: Pick<StepContext, 'pointInTime'>): { backupId?: string; at?: Date | string } {
  const at = step.at ?? 'latest';
  if (at === 'latest') return ctx.pointInTime ? { at: ctx.pointInTime } : {};
  return BACKUP_ID.test(at) ? { backupId: at } : { at };
}

/**
 * Restores through the backup service, as `bkdr restore` does: into a folder (for a
 * physical PostgreSQL source, a data directory set up for point-in-time recovery), or
 * into a database. The outcome carries the restored point in time for the achieved RPO.
 */
export const restoreStep: StepExecutor<RestoreStep> = {
  async run(step, ctx, signal): Promise<StepOutcome> {
    const backup = backupService(ctx, step.id);
    const target = step.target === undefined ? undefined : resolve(ctx.configDir ?? '.', step.target);
    const outcome = await backup.restoreFromBackup(
      {
        ...restoreSelection(step, ctx),
        source: step.source,
        destination: step.from,
        targetLocation: target,
        targetDatabase: step.targetDatabase,
        include: step.include,
        verification: step.verify,
        force: step.force,
        signal,
      },
      (e) => {
        if (e.type === 'restore-progress') ctx.reportProgress?.(e.bytes, e.totalBytes);
      },
    );
    const into = outcome.into ?? (target ? `into ${target}` : 'restored');
    return {
      detail: `backup ${outcome.backup.id.slice(0, 8)} of ${step.source} (${outcome.pointInTime}) ${into}`,
      output: {
        backup: outcome.backup.id,
        source: step.source,
        destination: outcome.backup.destination,
        pointInTime: outcome.pointInTime,
        runId: outcome.runId,
        ...(target ? { target } : {}),
        ...(outcome.restore ? { bytes: outcome.restore.bytes, files: outcome.restore.files } : {}),
      },
    };
  },
};

/** A backup of one source, as `backup run --source` takes it; a failed or partial run fails the step. */
export const backupStep: StepExecutor<BackupStep> = {
  async run(step, ctx, signal): Promise<StepOutcome> {
    const result = await backupService(ctx, step.id).createBackup(step.source, { destinations: step.destinations, signal });
    if (result.status !== 'succeeded') {
      const why = result.failures.map((f) => `${f.destination}: ${f.error}`).join('; ');
      throw new OperationError(`backup of ${step.source} ${result.status}${why ? `: ${why}` : ''}`);
    }
    const ids = result.backups.map((b) => b.snapshotId.slice(0, 8));
    return { detail: `backup of ${step.source}: ${ids.join(', ')}`, output: { runId: result.runId, backups: result.backups.map((b) => ({ id: b.snapshotId, destination: b.destination })) } };
  },
};

/** `backup verify`: the structure, and with `readData` a share of the packs read whole. Any problem fails the step. */
export const verifyStep: StepExecutor<VerifyStep> = {
  async run(step, ctx, signal): Promise<StepOutcome> {
    const readDataPercent = step.readData === true ? 100 : step.readData === false ? undefined : step.readData;
    const result = await backupService(ctx, step.id).verifyBackups({ readDataPercent, destinations: step.destination ? [step.destination] : undefined, signal });
    if (result.status !== 'clean') {
      const damaged = result.destinations.filter((d) => d.damaged).map((d) => `${d.destination} is damaged`);
      const failed = result.failures.map((f) => `${f.destination}: ${f.error}`);
      throw new OperationError(`verify ${result.status}: ${[...damaged, ...failed].join('; ')} (run ${result.runId})`);
    }
    return { detail: `verified ${result.destinations.map((d) => d.destination).join(', ')}`, output: { runId: result.runId } };
  },
};
