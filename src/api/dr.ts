import { DisasterRecoveryOrchestrator } from '../dr/disaster-recovery-orchestrator.js';
import { createBackupManager, type CreateBackupManagerOptions } from './backup.js';

export interface CreateDisasterRecoveryOrchestratorOptions extends CreateBackupManagerOptions {
  /** How often a waiting approval step looks for a decision (default 500 ms). */
  approvalPollMs?: number;
}

/**
 * The library entry point to the DR service, over the backup service its restore,
 * backup and verify steps use: the same code `bkdr dr` runs.
 *
 *   const dr = await createDisasterRecoveryOrchestrator({ configPath: './backup.config.ts' });
 *   dr.registerScenario({ id: 'database-corruption', name: 'Database Corruption', severity: 'high', rto: 120, rpo: 60,
 *                         affectedSystems: ['database'], triggers: [{ type: 'log', condition: 'ERROR.*database.*corruption' }],
 *                         recoveryPlans: ['point-in-time-recovery'] });
 *   const execution = await dr.triggerRecovery('database-corruption', { triggeredBy: 'automatic', dryRun: true });
 *   console.log(dr.getRecoveryStatus(execution.id).progress);
 */
export async function createDisasterRecoveryOrchestrator(opts: CreateDisasterRecoveryOrchestratorOptions = {}): Promise<DisasterRecoveryOrchestrator> {
  const backup = await createBackupManager(opts);
  const { config, configPath } = backup.configuration;
  return new DisasterRecoveryOrchestrator({
    config,
    configPath,
    catalog: backup.catalog,
    backup,
    ...(opts.approvalPollMs !== undefined ? { approvalPollMs: opts.approvalPollMs } : {}),
  });
}
