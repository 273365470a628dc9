import type { BackupManager } from '../backup/backup-manager.js';
import type { BusinessContinuityManager } from '../continuity/business-continuity-manager.js';
import type { DisasterRecoveryOrchestrator } from '../dr/disaster-recovery-orchestrator.js';

/**
 * The three services over one config and one catalog: what
 * `initializeEnterpriseBackupInfrastructure` returns, what `bkdr serve` serves, and what
 * the GraphQL schema pieces resolve against.
 */
export interface BkdrServices {
  backupManager: BackupManager;
  drOrchestrator: DisasterRecoveryOrchestrator;
  continuityManager: BusinessContinuityManager;
}
