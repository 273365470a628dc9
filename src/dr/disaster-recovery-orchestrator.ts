import { dirname, resolve } from 'node:path';
import type { BackupManager } from '../backup/backup-manager.js';
import type { Catalog } from '../catalog/catalog.js';
import type { DrApprovalRecord } from '../catalog/dr-executions-table.js';
import { type DrRecoveryPlan, type DrScenario, recoveryPlanSchema, scenarioSchema } from '../config/dr-schema.js';
import type { BkdrConfig } from '../config/schema.js';
import { validateSection } from '../config/validate.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { decideApproval } from './approve-step.js';
import type { DrContext } from './dr-context.js';
import type { ExecutionEvent } from './execution-runner.js';
import {
  activeExecutions,
  continuityMetrics,
  type ContinuityMetrics,
  executionHistory,
  lastRecoveryTest,
  listScenarioSummaries,
  planGraphFor,
  recoveryStatus,
  type ScenarioSummary,
} from './execution-queries.js';
import type { ExecutionView } from './execution-view.js';
import type { PlanGraph } from './plan-graph.js';
import { type RecoveryTestOptions, type RecoveryTestResult, runRecoveryTest } from './recovery-tests.js';
import { resumeRecovery } from './resume-recovery.js';
import { stepExecutors } from './step-executors.js';
import { type TriggerOptions, type TriggerResult, triggerRecovery } from './trigger-recovery.js';
import { watchDetectors, type WatchOptions, type WatchResult } from './watch-detectors.js';

export type { ExecutionEvent } from './execution-runner.js';
export type { ExecutionView, ExecutionStepView } from './execution-view.js';
export type { ContinuityMetrics, ScenarioSummary } from './execution-queries.js';
export type { TriggerOptions, TriggerResult } from './trigger-recovery.js';
export type { PreflightCheck } from './dr-preflight.js';
export type { RecoveryTestOptions, RecoveryTestResult, RecoveryTestType, ScenarioTestResult } from './recovery-tests.js';
export type { WatchEvent, WatchOptions, WatchResult } from './watch-detectors.js';

export interface DisasterRecoveryOrchestratorOptions {
  config: BkdrConfig;
  /** Relative paths in the config (restore targets) resolve against this file's folder. */
  configPath: string;
  catalog: Catalog;
  /** The backup service restore, backup and verify steps run through. */
  backup: BackupManager;
  logger?: Logger;
  /** How often a waiting approval step looks for a decision (default 500 ms). */
  approvalPollMs?: number;
}

/**
 * The disaster recovery service (DESIGN.md "Disaster recovery"): what the CLI, the
 * GraphQL API and an embedding application call. A facade over one-file use cases;
 * executions live in the catalog, so every read works from any process.
 */
export class DisasterRecoveryOrchestrator {
  readonly #ctx: DrContext;

  constructor(opts: DisasterRecoveryOrchestratorOptions) {
    this.#ctx = {
      config: opts.config,
      configDir: dirname(resolve(opts.configPath)),
      catalog: opts.catalog,
      backup: opts.backup,
      logger: opts.logger ?? silentLogger,
      executors: stepExecutors,
      registered: new Map(),
      registeredPlans: new Map(),
      ...(opts.approvalPollMs !== undefined ? { approvalPollMs: opts.approvalPollMs } : {}),
    };
  }

  /** Adds (or replaces) a scenario for this orchestrator, validated like the config's: the brief's objects load unchanged. */
  registerScenario(scenario: unknown): DrScenario {
    const parsed = validateSection(scenarioSchema, scenario, 'scenario');
    this.#ctx.registered.set(parsed.id, parsed);
    return parsed;
  }

  /** Adds (or replaces) a recovery plan, validated like the config's. */
  registerRecoveryPlan(planId: string, plan: unknown): DrRecoveryPlan {
    const parsed = validateSection(recoveryPlanSchema, plan, `recoveryPlans.${planId}`);
    this.#ctx.registeredPlans.set(planId, parsed);
    return parsed;
  }

  listScenarios(): ScenarioSummary[] {
    return listScenarioSummaries(this.#ctx);
  }

  /** A plan's (or a scenario's) step graph in execution order. */
  getPlan(planOrScenarioId: string): PlanGraph {
    return planGraphFor(this.#ctx, planOrScenarioId);
  }

  /** Runs the scenario's recovery to its end (or, with `dryRun`, plans and preflights it). */
  triggerRecovery(scenarioId: string, opts: TriggerOptions = {}): Promise<TriggerResult> {
    return triggerRecovery(this.#ctx, scenarioId, opts);
  }

  /** Progress, ETA, steps and objectives of an execution, from any process. */
  getRecoveryStatus(executionId: string): ExecutionView {
    return recoveryStatus(this.#ctx, executionId);
  }

  activeExecutions(): ExecutionView[] {
    return activeExecutions(this.#ctx);
  }

  getHistory(filter: { scenarioId?: string | undefined; since?: string | Date | undefined; limit?: number | undefined } = {}): ExecutionView[] {
    return executionHistory(this.#ctx, filter);
  }

  /** The newest DR test that ran, for "when were we last proven able to recover". */
  lastRecoveryTest(): ExecutionView | null {
    return lastRecoveryTest(this.#ctx);
  }

  approve(executionId: string, opts: { stepId?: string | undefined; by: string; reason?: string | undefined }): DrApprovalRecord {
    return decideApproval(this.#ctx, 'approve', executionId, opts);
  }

  reject(executionId: string, opts: { stepId?: string | undefined; by: string; reason?: string | undefined }): DrApprovalRecord {
    return decideApproval(this.#ctx, 'reject', executionId, opts);
  }

  /** Continues an interrupted execution without redoing its finished steps. */
  resumeRecovery(executionId: string, opts: { by?: string; signal?: AbortSignal; onEvent?: (e: ExecutionEvent) => void } = {}): Promise<TriggerResult> {
    return resumeRecovery(this.#ctx, executionId, opts);
  }

  /** `dr watch`: runs the detectors until the signal aborts (or, with `once`, one look) and starts what they find. */
  watch(opts: WatchOptions): Promise<WatchResult> {
    return watchDetectors(this.#ctx, opts);
  }

  /** A DR test: a `drTests` suite, or one scenario with `type`; scratch targets, recorded as evidence. */
  runRecoveryTest(suiteOrScenario: string, opts: RecoveryTestOptions = {}): Promise<RecoveryTestResult> {
    return runRecoveryTest(this.#ctx, suiteOrScenario, opts);
  }

  getBusinessContinuityMetrics(opts: { windowDays?: number } = {}): ContinuityMetrics {
    return continuityMetrics(this.#ctx, opts.windowDays);
  }
}
