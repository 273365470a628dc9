import { UsageError } from '../core/errors.js';
import { parseTimeExpression } from '../core/time-expression.js';
import type { DrScenario } from '../config/dr-schema.js';
import { type DrContext, recoveryPlans, scenarios } from './dr-context.js';
import { executionView, type ExecutionView } from './execution-view.js';
import { buildPlanGraph, type PlanGraph } from './plan-graph.js';
import { isDrTest } from '../catalog/dr-executions-table.js';

/**
 * The read side of DR: status, history, the scenarios and plans as configured, and the
 * figures continuity reads. Each read first marks `interrupted` the executions whose
 * process died, so nobody is shown a `running` that nothing runs.
 */
export function recoveryStatus(ctx: Pick<DrContext, 'catalog'>, executionId: string): ExecutionView {
  ctx.catalog.drExecutions.reapDied();
  const record = ctx.catalog.drExecutions.get(executionId);
  if (!record) throw new UsageError(`no execution ${executionId}`);
  return executionView(record);
}

/** Executions in progress (running or waiting for approval), oldest first. */
export function activeExecutions(ctx: Pick<DrContext, 'catalog'>): ExecutionView[] {
  ctx.catalog.drExecutions.reapDied();
  return ctx.catalog.drExecutions.active().map((r) => executionView(r));
}

/** Newest first. `since`: a time as `--since` takes it. */
export function executionHistory(ctx: Pick<DrContext, 'catalog'>, filter: { scenarioId?: string | undefined; since?: string | Date | undefined; limit?: number | undefined } = {}): ExecutionView[] {
  ctx.catalog.drExecutions.reapDied();
  const since = filter.since === undefined ? undefined : filter.since instanceof Date ? filter.since : parseTimeExpression(filter.since);
  return ctx.catalog.drExecutions
    .list({ ...(filter.scenarioId !== undefined ? { scenarioId: filter.scenarioId } : {}), ...(since ? { since } : {}), limit: filter.limit ?? 100 })
    .map((r) => executionView(r));
}

/** The newest DR test that ran (not a dry run), if any. */
export function lastRecoveryTest(ctx: Pick<DrContext, 'catalog'>): ExecutionView | null {
  ctx.catalog.drExecutions.reapDied();
  const test = ctx.catalog.drExecutions.latestTest();
  return test ? executionView(test) : null;
}

export interface ScenarioSummary {
  id: string;
  name: string;
  severity: DrScenario['severity'];
  rtoSeconds: number;
  rpoSeconds: number;
  automatic: boolean;
  affectedSystems: string[];
  plans: { planId: string; priority: number; dependsOn: string[]; steps: number }[];
  triggers: { type: string; condition: string }[];
  /** Why the scenario cannot run (an undefined plan, a cycle), if it cannot. */
  problem?: string;
}

export function listScenarioSummaries(ctx: Pick<DrContext, 'config' | 'registered' | 'registeredPlans'>): ScenarioSummary[] {
  const plans = recoveryPlans(ctx);
  return scenarios(ctx).map((s) => {
    let problem: string | undefined;
    try {
      buildPlanGraph(s, plans);
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    return {
      id: s.id,
      name: s.name,
      severity: s.severity,
      rtoSeconds: s.rto / 1000,
      rpoSeconds: s.rpo / 1000,
      automatic: s.automatic ?? false,
      affectedSystems: s.affectedSystems,
      plans: s.recoveryPlans.map((p, i) => ({ planId: p.planId, priority: p.priority ?? i + 1, dependsOn: p.dependsOn ?? [], steps: plans[p.planId]?.steps.length ?? 0 })),
      triggers: s.triggers.map((t) => ({ type: t.type, condition: t.condition })),
      ...(problem ? { problem } : {}),
    };
  });
}

/** `dr plan <id>`: a plan's steps in execution order, or a scenario's whole graph when the id names a scenario. */
export function planGraphFor(ctx: Pick<DrContext, 'config' | 'registered' | 'registeredPlans'>, id: string): PlanGraph {
  const plans = recoveryPlans(ctx);
  const scenario = scenarios(ctx).find((s) => s.id === id);
  if (scenario) return buildPlanGraph(scenario, plans);
  if (!plans[id]) {
    const known = [...Object.keys(plans), ...scenarios(ctx).map((s) => s.id)];
    throw new UsageError(`no recovery plan or scenario ${id}${known.length ? `; known: ${known.join(', ')}` : ''}`);
  }
  return buildPlanGraph({ id, recoveryPlans: [id] }, plans);
}

/** What the DR records say for continuity (the brief's getBusinessContinuityMetrics): measured, never assumed. */
export interface ContinuityMetrics {
  executions: number;
  succeeded: number;
  /** Mean achieved RTO of succeeded executions that were not tests, minutes; null without any. */
  meanTimeToRecoveryMinutes: number | null;
  /** Share of finished executions with the RTO (RPO) met, 0–100; null without any measured. */
  rtoMetPercent: number | null;
  rpoMetPercent: number | null;
  /** Share of DR test executions that succeeded, 0–100. */
  drTestSuccessRate: number | null;
  lastTestAt: string | null;
  /** Health-check availability over the window, 0–100. */
  availability: number | null;
  windowDays: number;
}

export function continuityMetrics(ctx: Pick<DrContext, 'catalog'>, windowDays = 90, now: Date = new Date()): ContinuityMetrics {
  const since = new Date(now.getTime() - windowDays * 86_400_000);
  const all = ctx.catalog.drExecutions.list({ since, limit: 10_000 }).filter((e) => !e.dryRun && e.status !== 'running' && e.status !== 'waiting-approval');
  const tests = all.filter(isDrTest);
  const real = all.filter((e) => !isDrTest(e));
  const succeeded = all.filter((e) => e.status === 'succeeded');
  const recoveries = real.filter((e) => e.status === 'succeeded' && e.rto.achievedSeconds !== null);
  const percent = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 1000) / 10);
  const rtoMeasured = all.filter((e) => e.rto.met !== null);
  const rpoMeasured = all.filter((e) => e.rpo.met !== null);
  return {
    executions: all.length,
    succeeded: succeeded.length,
    meanTimeToRecoveryMinutes: recoveries.length ? recoveries.reduce((s, e) => s + e.rto.achievedSeconds!, 0) / recoveries.length / 60 : null,
    rtoMetPercent: percent(rtoMeasured.filter((e) => e.rto.met).length, rtoMeasured.length),
    rpoMetPercent: percent(rpoMeasured.filter((e) => e.rpo.met).length, rpoMeasured.length),
    drTestSuccessRate: percent(tests.filter((e) => e.status === 'succeeded').length, tests.length),
    lastTestAt: tests[0]?.startedAt ?? null,
    availability: ctx.catalog.healthSamples.availability({ from: since, to: now }).percent,
    windowDays,
  };
}
