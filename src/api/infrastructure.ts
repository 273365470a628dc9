import type { BkdrConfigInput } from '../config/schema.js';
import { drSections } from '../config/dr-schema.js';
import { BusinessContinuityManager } from '../continuity/business-continuity-manager.js';
import { ConfigError } from '../core/errors.js';
import { DisasterRecoveryOrchestrator, type RecoveryTestResult } from '../dr/disaster-recovery-orchestrator.js';
import { planSchedule } from '../scheduling/schedule-plan.js';
import { Scheduler, type SchedulerEvent } from '../scheduling/scheduler.js';
import { backupManagerFor, resolveConfig } from './backup.js';
import type { BkdrServices } from './services.js';

export type ComplianceFramework = NonNullable<BkdrConfigInput['complianceFrameworks']>[number];

/** The frameworks the config schema knows, read from it so the two lists cannot drift. */
const KNOWN_FRAMEWORKS: readonly string[] = drSections.complianceFrameworks.unwrap().element.options;

/** A scheduled DR test as the scheduler sees it: the test's result with a run status. */
export type AutomatedTestRun = RecoveryTestResult & { status: 'succeeded' | 'failed' };

export interface InitializeInfrastructureOptions {
  /** The config: an object in the shape `defineConfig` takes, or a config file's path. */
  backup: BkdrConfigInput | string;
  /** Runs the config's scheduled `drTests` in this process until stop(). */
  enableAutomatedTesting?: boolean;
  /** Replaces the config's `complianceFrameworks`. */
  complianceFrameworks?: ComplianceFramework[];
  /** The repository password; else the chain of CLI.md (BKDR_PASSWORD, files, commands). */
  password?: string;
  /** What relative paths of an object config resolve against (default: the current directory). */
  cwd?: string;
  /** Each scheduled test's start, end, failure or skip: services never print, the application decides what to show. */
  onTestEvent?: (event: SchedulerEvent<AutomatedTestRun>) => void;
}

export interface BkdrInfrastructure extends BkdrServices {
  /** The frameworks this infrastructure answers for: the option's, else the config's. */
  readonly complianceFrameworks: readonly ComplianceFramework[];
  /** Stops the scheduled tests (a running one is aborted and its execution recorded), then closes the catalog. */
  stop(): Promise<void>;
}

/**
 * The brief's one-call setup: the backup, DR and continuity services over one config and
 * one catalog, and with `enableAutomatedTesting` the config's scheduled DR tests running
 * in this process, as `bkdr schedule run` runs them.
 *
 *   const infrastructure = await initializeEnterpriseBackupInfrastructure({ backup: backupConfig, enableAutomatedTesting: true,
 *                                                                           complianceFrameworks: ['SOX', 'ISO-22301'] });
 *   await infrastructure.backupManager.createBackup('all');
 *   await infrastructure.stop();
 */
export async function initializeEnterpriseBackupInfrastructure(options: InitializeInfrastructureOptions): Promise<BkdrInfrastructure> {
  const resolved = await resolveConfig({
    ...(typeof options.backup === 'string' ? { configPath: options.backup } : { config: options.backup }),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  const frameworks = options.complianceFrameworks ?? resolved.config.complianceFrameworks ?? [];
  checkFrameworks(frameworks);
  const config = options.complianceFrameworks !== undefined ? { ...resolved.config, complianceFrameworks: options.complianceFrameworks } : resolved.config;
  // Checked before the catalog opens, so a bad schedule leaves nothing to close.
  const testJobs = options.enableAutomatedTesting ? planSchedule(config).filter((job) => job.kind === 'dr-test') : [];
  if (options.enableAutomatedTesting && testJobs.length === 0) throw new ConfigError('drTests', 'automated testing needs at least one drTests suite with a schedule');

  const backupManager = backupManagerFor({ config, configPath: resolved.configPath }, options.password);
  const shared = { config, configPath: resolved.configPath, catalog: backupManager.catalog };
  const drOrchestrator = new DisasterRecoveryOrchestrator({ ...shared, backup: backupManager });
  const continuityManager = new BusinessContinuityManager(shared);

  const stopTests = new AbortController();
  const scheduling =
    testJobs.length > 0
      ? new Scheduler<AutomatedTestRun>({
          jobs: testJobs,
          // One test at a time, as `bkdr schedule run` does: two suites restoring at once would contend for the same repositories' locks.
          maxConcurrent: 1,
          runJob: async (job, signal) => {
            const result = await drOrchestrator.runRecoveryTest(job.source, { signal });
            return { ...result, status: result.passed ? 'succeeded' : 'failed' };
          },
          ...(options.onTestEvent !== undefined ? { onEvent: options.onTestEvent } : {}),
        }).run(stopTests.signal)
      : Promise.resolve();

  let stopping: Promise<void> | undefined;
  return {
    backupManager,
    drOrchestrator,
    continuityManager,
    complianceFrameworks: frameworks,
    stop: () =>
      (stopping ??= (async () => {
        stopTests.abort();
        // The scheduler resolves only once a running test has recorded how it ended.
        await scheduling;
        await backupManager.close();
        backupManager.catalog.close();
      })()),
  };
}

function checkFrameworks(frameworks: readonly string[]): void {
  frameworks.forEach((name, i) => {
    if (!KNOWN_FRAMEWORKS.includes(name)) throw new ConfigError(`complianceFrameworks[${i}]`, `must be one of ${KNOWN_FRAMEWORKS.join(', ')} (got '${name}')`);
  });
}
