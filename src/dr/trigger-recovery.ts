import type { DrScenario } from '../config/dr-schema.js';
import { parseTimeExpression } from '../core/time-expression.js';
import { type DrContext, recoveryPlans, scenarioById } from './dr-context.js';
import { type PreflightCheck, preflightStep } from './dr-preflight.js';
import { type ExecutionEvent, runExecution, storedPlan } from './execution-runner.js';
import { executionView, type ExecutionView } from './execution-view.js';
import { finishExecution } from './finish-execution.js';
import { announceToScenario } from './announce.js';
import { buildPlanGraph, type PlanGraph, PlanGraphError, type PlanGraphStep } from './plan-graph.js';
import { catalogHistory, estimateStepSeconds } from './step-estimates.js';
import { isDrTest } from '../catalog/dr-executions-table.js';

export interface TriggerOptions {
  /** Who or what: a user name, 'automatic' (a detector), 'api', 'dr-test'. */
  triggeredBy?: string;
  dryRun?: boolean;
  reason?: string;
  /** The point in time restore steps without their own `at` recover to. */
  at?: string | Date;
  /** When a detector saw the failure: achieved RTO counts from here. */
  detectionAt?: Date;
  /** When the failure began (a detector's estimate): achieved RPO counts back from here. */
  failureAt?: Date;
  /** A DR test: each step's `test` override replaces it, `skip` ones are skipped. */
  test?: { type: string };
  signal?: AbortSignal | undefined;
  onEvent?: ((e: ExecutionEvent) => void) | undefined;
  /** Called once the execution is recorded, before it runs (a detector attaches it to its detection). */
  onCreated?: (executionId: string) => void;
}

export interface TriggerResult extends ExecutionView {
  /** A dry run: every error-level preflight check passed. */
  preflightOk?: boolean;
}

/**
 * `dr trigger`: resolves the scenario's plans into one step graph, records the
 * execution, and runs it to its end (or, as a dry run, preflights each step and records
 * it `planned`, running nothing). A scenario with an execution in progress is not
 * started twice. Every execution that runs opens an incident.
 */
export async function triggerRecovery(ctx: DrContext, scenarioId: string, opts: TriggerOptions = {}): Promise<TriggerResult> {
  const { drExecutions, incidents, audit } = ctx.catalog;
  const scenario = scenarioById(ctx, scenarioId);
  const pointInTime = opts.at === undefined ? undefined : opts.at instanceof Date ? opts.at : parseTimeExpression(opts.at);
  const triggeredBy = opts.triggeredBy ?? 'manual';
  let built: PlanGraph;
  try {
    built = buildPlanGraph(scenario, recoveryPlans(ctx));
  } catch (err) {
    // A dry run reports a plan that cannot be built like any other preflight problem; a real trigger stops here.
    if (!(err instanceof PlanGraphError) || !opts.dryRun) throw err;
    return plannedWithProblem(ctx, scenario, triggeredBy, err, opts.reason);
  }
  const { graph, skipped } = testVariant(built, opts.test);

  // A dead process's execution does not block the scenario; a live one does (the catalog refuses a second, atomically).
  if (!opts.dryRun) drExecutions.reapDied();

  const history = catalogHistory(ctx.catalog);
  const steps = graph.steps.map((s) => ({ planId: s.planId, stepId: s.step.id, type: s.step.type, weight: estimateStepSeconds(scenario.id, s, history) }));
  const executionId = drExecutions.create({
    scenarioId: scenario.id,
    dryRun: opts.dryRun ?? false,
    triggeredBy,
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    ...(opts.detectionAt ? { detectionAt: opts.detectionAt } : {}),
    ...(opts.failureAt ? { failureAt: opts.failureAt } : {}),
    rtoTargetSeconds: scenario.rto / 1000,
    rpoTargetSeconds: scenario.rpo / 1000,
    plan: storedPlan(graph, { skipped, pointInTime }),
    steps,
  });
  // Whatever fails from here on (a busy catalog, a listener that throws) must not leave it `running` under a live process.
  try {
    audit.append({
      action: 'dr.trigger',
      target: scenario.id,
      payload: { executionId, triggeredBy, dryRun: opts.dryRun ?? false, reason: opts.reason ?? null, at: pointInTime?.toISOString() ?? null, test: opts.test?.type ?? null },
    });
    for (const id of skipped) drExecutions.updateStep(executionId, id, { status: 'skipped', output: { detail: 'skipped in DR tests' } });
    opts.onCreated?.(executionId);

    if (opts.dryRun) {
      let preflightOk = true;
      for (const s of graph.steps) {
        if (skipped.includes(s.id)) continue;
        const checks: PreflightCheck[] = await preflightStep(ctx, scenario, s, { pointInTime });
        if (checks.some((c) => !c.ok && c.level === 'error')) preflightOk = false;
        drExecutions.updateStep(executionId, s.id, { output: { preflight: checks } });
      }
      drExecutions.finish(executionId, 'planned', preflightOk ? {} : { error: 'preflight found problems' });
      return { ...executionView(drExecutions.get(executionId)!), preflightOk };
    }

    // A DR test is evidence, not an incident: nobody is paged and no GDPR clock starts.
    if (!opts.test) {
      incidents.open({
        title: `${scenario.name}: DR execution ${executionId}`,
        severity: scenario.severity,
        executionId,
        scenarioId: scenario.id,
        personalData: affectsPersonalData(ctx, scenario),
        ...(opts.detectionAt ? { openedAt: opts.detectionAt } : {}),
        notes: opts.reason ?? `triggered by ${triggeredBy}`,
        openedBy: triggeredBy,
      });
    }
  } catch (err) {
    endAfterFailure(ctx, executionId, err);
    throw err;
  }
  return runToEnd(ctx, executionId, scenario, { pointInTime, signal: opts.signal, onEvent: opts.onEvent });
}

/** An execution whose run could not go on: `failed` with the reason, never left `running`. */
function endAfterFailure(ctx: DrContext, executionId: string, err: unknown): void {
  const { drExecutions } = ctx.catalog;
  try {
    const now = drExecutions.get(executionId);
    if (now && (now.status === 'running' || now.status === 'waiting-approval' || now.status === 'planned')) {
      drExecutions.finish(executionId, now.dryRun ? 'planned' : 'failed', { error: `bkdr could not run it: ${err instanceof Error ? err.message : String(err)}` });
    }
  } catch {
    // The catalog itself failed: the process ends, and the next reader marks the execution interrupted (its pid is gone).
  }
}

/** Runs a recorded execution (new or resumed) and ends its record; an interruption leaves it `interrupted`. */
export async function runToEnd(
  ctx: DrContext,
  executionId: string,
  scenario: Pick<DrScenario, 'name'> & Partial<Pick<DrScenario, 'notify'>>,
  opts: { pointInTime?: Date | undefined; signal?: AbortSignal | undefined; onEvent?: ((e: ExecutionEvent) => void) | undefined },
): Promise<TriggerResult> {
  const { drExecutions } = ctx.catalog;
  const signal = opts.signal ?? new AbortController().signal;
  const emit = opts.onEvent ?? (() => undefined);
  const record = drExecutions.get(executionId);
  const isTest = record ? isDrTest(record) : false;
  const end = await runExecution(executionId, {
    executions: drExecutions,
    audit: ctx.catalog.audit,
    executors: ctx.executors,
    context: { dryRun: false, backup: ctx.backup, config: ctx.config, configDir: ctx.configDir, ...(opts.pointInTime ? { pointInTime: opts.pointInTime } : {}) },
    log: (level, message, fields) => ctx.logger[level](message, fields),
    onEvent: emit,
    signal,
    scenarioName: scenario.name,
    ...(ctx.approvalPollMs !== undefined ? { approvalPollMs: ctx.approvalPollMs } : {}),
  }).catch((err: unknown) => {
    endAfterFailure(ctx, executionId, err);
    throw err;
  });
  if (end.outcome !== 'interrupted') {
    const finished = finishExecution(ctx, executionId, end.outcome, end.error);
    emit({ type: 'execution-finished', executionId, status: end.outcome, ...(end.error ? { error: end.error } : {}), at: new Date() });
    await announceEnd(ctx, scenario, executionView(finished), signal, isTest);
  }
  return executionView(drExecutions.get(executionId)!);
}

function plannedWithProblem(ctx: DrContext, scenario: DrScenario, triggeredBy: string, err: PlanGraphError, reason: string | undefined): TriggerResult {
  const { drExecutions } = ctx.catalog;
  const executionId = drExecutions.create({
    scenarioId: scenario.id,
    dryRun: true,
    triggeredBy,
    ...(reason !== undefined ? { reason } : {}),
    rtoTargetSeconds: scenario.rto / 1000,
    rpoTargetSeconds: scenario.rpo / 1000,
    plan: null,
    steps: [],
  });
  drExecutions.finish(executionId, 'planned', { error: err.message });
  ctx.catalog.audit.append({ action: 'dr.trigger', target: scenario.id, payload: { executionId, triggeredBy, dryRun: true, reason: reason ?? null, problems: err.problems } });
  return { ...executionView(drExecutions.get(executionId)!), preflightOk: false };
}

/** The scenario's `notify` hears how each execution ended. */
function announceEnd(ctx: DrContext, scenario: Pick<DrScenario, 'name'> & Partial<Pick<DrScenario, 'notify'>>, view: ExecutionView, signal: AbortSignal, isTest: boolean): Promise<void> {
  const objectives = view.rto.achievedSeconds === null ? '' : `; RTO ${Math.round(view.rto.achievedSeconds)} s${view.rto.met === false ? ' (missed)' : ''}`;
  const message = `${isTest ? '[DR test] ' : ''}${scenario.name}: DR execution ${view.id} ${view.status}${view.error ? `: ${view.error}` : ''}${objectives}`;
  return announceToScenario(ctx, { id: view.scenarioId, name: scenario.name, notify: scenario.notify }, message, { signal, executionId: view.id, what: `the end of execution ${view.id}` });
}

/** A DR test runs each step's `test` override in its place; `skip` leaves the step out (its dependents still run). */
function testVariant(graph: PlanGraph, test: TriggerOptions['test']): { graph: PlanGraph; skipped: string[] } {
  if (!test) return { graph, skipped: [] };
  const skipped: string[] = [];
  const steps = graph.steps.map((s): PlanGraphStep => {
    const override = (s.step as { test?: unknown }).test;
    if (override === 'skip') skipped.push(s.id);
    // A test never runs production rollback actions (`systemctl stop postgresql` at 3 a.m. in a quarterly test):
    // an override cannot name rollbacks, so a test rolls nothing back.
    const { rollback: _production, ...step } = s.step as PlanGraphStep['step'] & { rollback?: unknown };
    if (override === undefined || override === 'skip') return { ...s, step };
    return { ...s, step: { ...step, ...(override as Record<string, unknown>), id: s.step.id, type: s.step.type } };
  });
  return { graph: { ...graph, steps }, skipped };
}

/** A scenario touches personal data when a system it affects says so (GDPR's 72-hour clock then runs). */
function affectsPersonalData(ctx: DrContext, scenario: DrScenario): boolean {
  const systems = ctx.config.systems ?? [];
  return scenario.affectedSystems.some((name) => systems.some((s) => s.name === name && s.personalData === true));
}
