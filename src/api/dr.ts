import type { BackupManager } from '../backup/backup-manager.js';
import type { BkdrConfigInput } from '../config/schema.js';
import { DisasterRecoveryOrchestrator } from '../dr/disaster-recovery-orchestrator.js';
import { createBackupManager, type CreateBackupManagerOptions, toOptions } from './backup.js';

export interface CreateDisasterRecoveryOrchestratorOptions extends CreateBackupManagerOptions {
  /** An existing backup service: the orchestrator shares its config and catalog instead of opening its own. */
  backupManager?: BackupManager;
  /** How often a waiting approval step looks for a decision (default 500 ms). */
  approvalPollMs?: number;
}

/** The backup service a DR or continuity factory works over: the one given, else one opened from the config. */
export async function sharedBackupManager(opts: CreateBackupManagerOptions & { backupManager?: BackupManager }): Promise<BackupManager> {
  return opts.backupManager ?? createBackupManager(opts);
}

/**
 * The library entry point to the DR service, over the backup service its restore,
 * backup and verify steps use: the same code `bkdr dr` runs. It takes what
 * createBackupManager takes (nothing, a path, a config object, the options), or
 * `{ backupManager }` to share one.
 *
 *   const dr = await createDisasterRecoveryOrchestrator();
 *   dr.registerScenario({ id: 'database-corruption', name: 'Database Corruption', severity: 'high', rto: 120, rpo: 60,
 *                         affectedSystems: ['database'], triggers: [{ type: 'log', condition: 'ERROR.*database.*corruption' }],
 *                         recoveryPlans: ['point-in-time-recovery'] });
 *   const execution = await dr.triggerRecovery('database-corruption', { triggeredBy: 'automatic', dryRun: true });
 *   console.log(dr.getRecoveryStatus(execution.id).progress);
 */
export async function createDisasterRecoveryOrchestrator(arg?: string | BkdrConfigInput | CreateDisasterRecoveryOrchestratorOptions): Promise<DisasterRecoveryOrchestrator> {
  const opts: CreateDisasterRecoveryOrchestratorOptions = toOptions(arg);
  const backup = await sharedBackupManager(opts);
  const { config, configPath } = backup.configuration;
  return new DisasterRecoveryOrchestrator({
    config,
    configPath,
    catalog: backup.catalog,
    backup,
    ...(opts.approvalPollMs !== undefined ? { approvalPollMs: opts.approvalPollMs } : {}),
  });
}
