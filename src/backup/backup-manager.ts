import { dirname, resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import type { RunRecord } from '../catalog/runs-table.js';
import type { BkdrConfig } from '../config/schema.js';
import { UsageError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { KeyInfo } from '../repo/repository.js';
import { type BackupContext, createBackupContext, sourceNames } from './backup-context.js';
import { type BackupEvent, type BackupRunResult, type CreateBackupOptions, runBackup } from './backup-run.js';
import { type BackupStatus, getBackupStatus } from './backup-status.js';
import { type BackupSummary, listBackups, rebuildCatalog, toSummary } from './catalog-sync.js';
import { type WatchRunEvent, watchSources } from './continuous-watch.js';
import { copyBackups, type CopyResult } from './copy-backups.js';
import { addKey, changePassword, listKeys, removeKey } from './keys.js';
import { pruneBackups, type PruneResult } from './prune-backups.js';
import { recoveryPoints, type RecoveryPoints } from './recovery-points.js';
import { repairRepositories, type RepairResult } from './repair-run.js';
import { restoreFromBackup, type RestoreOutcome, type RestoreRequest } from './restore-backup.js';
import type { PruneSafety } from './retention-prune.js';
import { type LsEntry, showBackup } from './show-backup.js';
import { type DisasterRecoveryTestResult, testDisasterRecovery, verifyBackups, type VerifyResult } from './verify-backups.js';
import type { VerifyOptions } from './verify-run.js';

export type { BackupType } from './backup-context.js';
export { PROGRAM_VERSION } from './backup-run.js';
export type { BackupEvent, BackupFailure, BackupOutcome, BackupRunResult, CreateBackupOptions, PlannedBackup, ProgressRates } from './backup-run.js';
export type { BackupStatus } from './backup-status.js';
export type { BackupSummary } from './catalog-sync.js';
export type { WatchRunEvent } from './continuous-watch.js';
export type { CopyResult } from './copy-backups.js';
export type { PruneResult } from './prune-backups.js';
export type { RecoveryPoints } from './recovery-points.js';
export type { RepairResult } from './repair-run.js';
export type { RestoreOutcome, RestoreRequest } from './restore-backup.js';
export type { LsEntry } from './show-backup.js';
export type { DisasterRecoveryTestResult, VerifyResult } from './verify-backups.js';

export interface BackupManagerOptions {
  config: BkdrConfig;
  /** Relative paths in the config (sources, local destinations) resolve against this file's folder. */
  configPath: string;
  catalog: Catalog;
  /** Called once, only when an encrypted destination is opened. */
  password: () => Promise<string>;
  /** A file holding the password, for PostgreSQL's restore_command after a point-in-time restore. */
  passwordFile?: string | undefined;
  /** Debug logging of destination calls (the CLI's -v). */
  logger?: Logger;
  /** How long a run waits for another run's conflicting repository lock before it is refused (exit 4). */
  lockWaitMs?: number;
  /** Milliseconds since the epoch, for progress rates and ETAs (tests inject one). */
  clock?: () => number;
}

/**
 * The backup service (DESIGN.md src/backup): what the CLI, the GraphQL API and an
 * embedding application call. A facade: each operation is a module of its own that
 * opens its own repository session, so one manager runs several operations at once,
 * each with its own locks. It never prints; progress arrives as events.
 */
export class BackupManager {
  readonly #ctx: BackupContext;

  constructor(opts: BackupManagerOptions) {
    this.#ctx = createBackupContext({
      config: opts.config,
      configDir: dirname(resolve(opts.configPath)),
      configPath: resolve(opts.configPath),
      catalog: opts.catalog,
      logger: opts.logger ?? silentLogger,
      password: opts.password,
      passwordFile: opts.passwordFile,
      lockWaitMs: opts.lockWaitMs ?? 0,
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
  }

  get catalog(): Catalog {
    return this.#ctx.catalog;
  }

  /** The config it runs with and the file it came from (relative paths resolve against its folder). */
  get configuration(): { config: BkdrConfig; configPath: string } {
    return { config: this.#ctx.config, configPath: this.#ctx.configPath };
  }

  sourceNames(): string[] {
    return sourceNames(this.#ctx.config);
  }

  createBackup(sources: string | string[] = 'all', opts: CreateBackupOptions = {}, onEvent?: (e: BackupEvent) => void): Promise<BackupRunResult> {
    return runBackup(this.#ctx, sources, opts, onEvent);
  }

  restoreFromBackup(req: RestoreRequest, onEvent?: (e: BackupEvent) => void): Promise<RestoreOutcome> {
    return restoreFromBackup(this.#ctx, req, onEvent);
  }

  listBackups(filter: { source?: string | undefined; destination?: string | undefined; since?: string | Date | undefined } = {}): Promise<BackupSummary[]> {
    return listBackups(this.#ctx, filter);
  }

  showBackup(backupId: string, opts: { ls?: string | boolean | undefined; destination?: string | undefined } = {}): Promise<{ backup: BackupSummary; entries?: LsEntry[] }> {
    return showBackup(this.#ctx, backupId, opts);
  }

  /** A backup as the catalog knows it since the last listing, without reading any repository (cheap: an API resolving a chain of parents). */
  catalogedBackup(backupId: string, destination?: string): BackupSummary | undefined {
    const record = this.#ctx.catalog.backups.get(backupId, destination);
    return record ? toSummary(record) : undefined;
  }

  getBackupStatus(): Promise<BackupStatus> {
    return getBackupStatus(this.#ctx);
  }

  /** What a source can be restored to now: the window, the newest backup's size, WAL gaps. */
  recoveryPoints(source: string, destination?: string): Promise<RecoveryPoints> {
    return recoveryPoints(this.#ctx, source, destination);
  }

  verifyBackups(opts: VerifyOptions & { destinations?: string[] | undefined } = {}): Promise<VerifyResult> {
    return verifyBackups(this.#ctx, opts);
  }

  testDisasterRecovery(test: string, opts: { readDataPercent?: number | undefined; signal?: AbortSignal | undefined } = {}): Promise<DisasterRecoveryTestResult> {
    return testDisasterRecovery(this.#ctx, test, opts);
  }

  pruneBackups(opts: { dryRun?: boolean | undefined; destinations?: string[] | undefined; signal?: AbortSignal | undefined } & PruneSafety = {}): Promise<PruneResult> {
    return pruneBackups(this.#ctx, opts);
  }

  copyBackups(req: { from: string; to: string; backupIds?: string[] | undefined; signal?: AbortSignal | undefined }): Promise<CopyResult> {
    return copyBackups(this.#ctx, req);
  }

  /** `backup watch`: the continuous strategy; each backup it takes is recorded as `continuous`. */
  watchSources(
    sources: string | string[],
    opts: { rpoMs?: number | undefined; debounceMs?: number | undefined; signal: AbortSignal },
    onEvent?: (e: WatchRunEvent) => void,
  ): Promise<{ backups: number }> {
    return watchSources(this.#ctx, (source) => this.createBackup(source, { continuous: true }), sources, opts, onEvent);
  }

  rebuildCatalog(from?: string[]): Promise<{ destination: string; backups: number; added: number; removed: number }[]> {
    return rebuildCatalog(this.#ctx, from);
  }

  repairRepositories(what: 'index' | 'snapshots', opts: { dryRun?: boolean | undefined; destinations?: string[] | undefined } = {}): Promise<RepairResult[]> {
    return repairRepositories(this.#ctx, what, opts);
  }

  listKeys(destinations?: string[]): Promise<{ destination: string; encrypted: boolean; keys: KeyInfo[] }[]> {
    return listKeys(this.#ctx, destinations);
  }

  addKey(newPassword: string, destinations?: string[]): Promise<{ destination: string; keyId: string }[]> {
    return addKey(this.#ctx, newPassword, destinations);
  }

  changePassword(newPassword: string, destinations?: string[]): Promise<{ destination: string; keyId: string; removed: string }[]> {
    return changePassword(this.#ctx, newPassword, destinations);
  }

  removeKey(id: string, destinations?: string[]): Promise<{ destination: string; removed: string }[]> {
    return removeKey(this.#ctx, id, destinations);
  }

  /** One run (a backup, restore, verify, prune …) as the catalog holds it; an id prefix will do. */
  getRun(runId: string): RunRecord {
    // A run whose process was killed would say `running` for ever: it is marked `died` first.
    this.#ctx.catalog.runs.reapDied();
    const run = this.#ctx.catalog.runs.get(runId);
    if (!run) throw new UsageError(`no run ${runId}`);
    return run;
  }

  getExecutionLogs(runId: string): { run: RunRecord; logs: ReturnType<Catalog['runLogs']['forRun']> } {
    const run = this.getRun(runId);
    return { run, logs: this.#ctx.catalog.runLogs.forRun(run.id) };
  }

  /** Closes what operations still hold (an embedding application shutting down mid-operation); each operation closes its own when it ends. */
  close(): Promise<void> {
    return this.#ctx.closeSessions();
  }
}
