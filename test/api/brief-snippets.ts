/**
 * The product brief's library snippets as an application writes them: it imports bkdr
 * by its package name only, and checks what it gets (a restore that differs, a run
 * without logs, a dry run that plans nothing all throw). It prints one JSON line.
 *
 * Set by its test: BKDR_SNIPPET_DIR (a temp dir with app.db and files/), BKDR_CONFIG (a file holding
 * this same config, for the factories called with no argument),
 * BKDR_CONFIG and BKDR_PASSWORD.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BackupManager,
  type BkdrConfigInput,
  type BusinessContinuityManager,
  createBackupManager,
  createBusinessContinuityManager,
  createDisasterRecoveryOrchestrator,
  type DisasterRecoveryOrchestrator,
  initializeEnterpriseBackupInfrastructure,
} from 'bkdr';
import { briefBackupConfig } from './brief-backup-config.js';

const dir = process.env['BKDR_SNIPPET_DIR'];
if (!dir) throw new Error('BKDR_SNIPPET_DIR is not set');

const backupConfig: BkdrConfigInput = briefBackupConfig(dir);

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`brief snippet check failed: ${what}`);
}

// ---- initializeEnterpriseBackupInfrastructure ----

const infrastructure = await initializeEnterpriseBackupInfrastructure({ backup: backupConfig, enableAutomatedTesting: true, complianceFrameworks: ['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR'] });
check(infrastructure.complianceFrameworks.length === 4, 'the infrastructure answers for the four frameworks');
check(
  infrastructure.drOrchestrator.listScenarios().some((s) => s.id === 'db-failure'),
  'the infrastructure DR service knows the scenario',
);

// ---- the application's own DI container ----

type Factory = () => unknown;

class Container {
  readonly #factories = new Map<string, Factory>();
  readonly #instances = new Map<string, unknown>();

  register(name: string, factory: Factory): void {
    this.#factories.set(name, factory);
  }

  /** One instance per name, made on first use (a promise when the factory is async). */
  resolve<T>(name: string): T {
    if (!this.#instances.has(name)) {
      const factory = this.#factories.get(name);
      if (!factory) throw new Error(`nothing registered as ${name}`);
      this.#instances.set(name, factory());
    }
    return this.#instances.get(name) as T;
  }
}

const container = new Container();
container.register('backupManager', () => createBackupManager(backupConfig));
container.register('drOrchestrator', () => createDisasterRecoveryOrchestrator());
container.register('bcManager', () => createBusinessContinuityManager());

const backupManager = await container.resolve<Promise<BackupManager>>('backupManager');
const drOrchestrator = await container.resolve<Promise<DisasterRecoveryOrchestrator>>('drOrchestrator');
const bcManager = await container.resolve<Promise<BusinessContinuityManager>>('bcManager');

// ---- backup, restore, status, logs ----

const backup = await backupManager.createBackup(['database', 'files'], { type: 'incremental', priority: 'high' });
check(backup.status === 'succeeded', `the backup succeeded (${backup.status}: ${backup.failures.map((f) => f.error).join('; ')})`);
check(
  backup.backups
    .map((b) => b.source)
    .sort()
    .join(',') === 'database,files',
  'both sources were backed up',
);

const backupId = backup.backups.find((b) => b.source === 'files')?.snapshotId;
if (backupId === undefined) throw new Error('no backup of files');
const targetLocation = await mkdtemp(join(dir, 'restore-'));
const restored = await backupManager.restoreFromBackup({ backupId, targetLocation, verification: true });
const verified = restored.restore?.verified;
check(verified !== undefined && verified.mismatches.length === 0, 'the restore verified without mismatches');
const original = await readFile(join(dir, 'files', 'orders.csv'), 'utf8');
// A files source restores under the target at its original absolute path.
const copy = await readFile(join(targetLocation, dir, 'files', 'orders.csv'), 'utf8');
check(copy === original, 'the restored file has the original content');

const status = await backupManager.getBackupStatus();
check(status.totals.backups >= 2, 'the status counts both backups');
const logs = backupManager.getExecutionLogs(backup.runId);
check(logs.run.status === 'succeeded' && logs.logs.length > 0, 'the run has its logs');

// ---- disaster recovery and continuity ----

const plan = await drOrchestrator.triggerRecovery('db-failure', { triggeredBy: 'api', dryRun: true });
check(plan.status === 'planned' && plan.preflightOk === true && plan.steps.length === 1, 'the dry run planned the recovery');

const assessment = bcManager.conductComplianceAssessment('ISO-22301', 'External Auditor', ['backup', 'recovery', 'testing']);
check(assessment.framework === 'ISO-22301' && assessment.assessor === 'External Auditor', 'the assessment is the one asked for');

await infrastructure.stop();

console.log(
  JSON.stringify({
    frameworks: infrastructure.complianceFrameworks,
    backup: { runId: backup.runId, status: backup.status, sources: backup.backups.map((b) => b.source).sort() },
    restore: { backupId, files: restored.restore?.files, verifiedFiles: verified?.files, sameContent: copy === original },
    status: { backups: status.totals.backups, sources: status.totals.sources },
    logs: { runStatus: logs.run.status, lines: logs.logs.length },
    dryRun: { status: plan.status, preflightOk: plan.preflightOk, steps: plan.steps.length },
    assessment: { framework: assessment.framework, overallCompliance: assessment.overallCompliance, findings: assessment.findings.length },
  }),
);
