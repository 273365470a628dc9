import type { BackupManager } from '../backup/backup-manager.js';
import type { BkdrConfigInput } from '../config/schema.js';
import { BusinessContinuityManager } from '../continuity/business-continuity-manager.js';
import { type CreateBackupManagerOptions, toOptions } from './backup.js';
import { sharedBackupManager } from './dr.js';

export interface CreateBusinessContinuityManagerOptions extends CreateBackupManagerOptions {
  /** An existing backup service: the continuity service reads its config and catalog instead of opening its own. */
  backupManager?: BackupManager;
}

/**
 * The library entry point to the continuity service: the same code `bkdr compliance`
 * and `bkdr bc` run, over the catalog the backup service records into. It takes what
 * createBackupManager takes (nothing, a path, a config object, the options), or
 * `{ backupManager }` to share one.
 *
 *   const bc = await createBusinessContinuityManager();
 *   const assessment = bc.conductComplianceAssessment('ISO-22301', 'External Auditor', ['backup', 'recovery', 'testing']);
 *   console.log(assessment.overallCompliance, assessment.findings);
 */
export async function createBusinessContinuityManager(arg?: string | BkdrConfigInput | CreateBusinessContinuityManagerOptions): Promise<BusinessContinuityManager> {
  const opts: CreateBusinessContinuityManagerOptions = toOptions(arg);
  const backup = await sharedBackupManager(opts);
  const { config, configPath } = backup.configuration;
  return new BusinessContinuityManager({ config, configPath, catalog: backup.catalog });
}
