import { BusinessContinuityManager } from '../continuity/business-continuity-manager.js';
import { createBackupManager, type CreateBackupManagerOptions } from './backup.js';

/**
 * The library entry point to the continuity service: the same code `bkdr compliance`
 * and `bkdr bc` run, over the catalog the backup service records into.
 *
 *   const bc = await createBusinessContinuityManager({ configPath: './backup.config.ts' });
 *   const assessment = bc.conductComplianceAssessment('ISO-22301', 'External Auditor', ['backup', 'recovery', 'testing']);
 *   console.log(assessment.overallCompliance, assessment.findings);
 */
export async function createBusinessContinuityManager(opts: CreateBackupManagerOptions = {}): Promise<BusinessContinuityManager> {
  const backup = await createBackupManager(opts);
  const { config, configPath } = backup.configuration;
  return new BusinessContinuityManager({ config, configPath, catalog: backup.catalog });
}
