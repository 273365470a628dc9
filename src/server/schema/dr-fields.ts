import type { DrObjective } from '../../catalog/dr-executions-table.js';
import type { ExecutionStepView, ExecutionView, ScenarioSummary } from '../../dr/disaster-recovery-orchestrator.js';
import { pollChanges } from './poll-changes.js';
import type { BkdrBuilder, SchemaDeps } from './schema-types.js';

/** Statuses after which nothing more happens to an execution until someone acts (`dr resume` for an interrupted one). */
const ENDED = new Set(['planned', 'succeeded', 'failed', 'rolled-back', 'interrupted']);

/** The DR service's part of the schema: recovery status, executions, scenarios, `triggerRecovery`, `approveStep`, `executionProgress`. */
export function addDrFields(b: BkdrBuilder, deps: SchemaDeps): void {
  const { drOrchestrator, continuityManager } = deps.services;

  const Objective = b.objectRef<DrObjective>('Objective').implement({
    description: 'A recovery objective in seconds: the target, what was achieved, and whether it was met (null until both are known).',
    fields: (t) => ({
      targetSeconds: t.exposeFloat('targetSeconds', { nullable: true }),
      achievedSeconds: t.exposeFloat('achievedSeconds', { nullable: true }),
      met: t.exposeBoolean('met', { nullable: true }),
    }),
  });
  const ExecutionStep = b.objectRef<ExecutionStepView>('ExecutionStep').implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      planId: t.exposeString('planId'),
      type: t.exposeString('type'),
      status: t.exposeString('status'),
      attempts: t.exposeInt('attempts'),
      startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.startedAt }),
      endedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.endedAt }),
      error: t.exposeString('error', { nullable: true }),
      detail: t.exposeString('detail', { nullable: true }),
    }),
  });
  const Execution = b.objectRef<ExecutionView>('DrExecution').implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      scenarioId: t.exposeString('scenarioId'),
      status: t.exposeString('status', { description: 'planned | running | waiting-approval | succeeded | failed | rolled-back | interrupted' }),
      dryRun: t.exposeBoolean('dryRun'),
      triggeredBy: t.exposeString('triggeredBy'),
      reason: t.exposeString('reason', { nullable: true }),
      progress: t.exposeFloat('progress', { description: '0 to 100, weighted by each step’s expected duration.' }),
      estimatedCompletion: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.estimatedCompletion }),
      startedAt: t.field({ type: 'DateTime', resolve: (e) => e.startedAt }),
      endedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.endedAt }),
      detectionAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.detectionAt }),
      failureAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.failureAt }),
      error: t.exposeString('error', { nullable: true }),
      steps: t.field({ type: [ExecutionStep], resolve: (e) => e.steps }),
      rto: t.field({ type: Objective, resolve: (e) => e.rto }),
      rpo: t.field({ type: Objective, resolve: (e) => e.rpo }),
    }),
  });
  const Scenario = b.objectRef<ScenarioSummary>('DrScenario').implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      name: t.exposeString('name'),
      severity: t.exposeString('severity'),
      rtoSeconds: t.exposeFloat('rtoSeconds'),
      rpoSeconds: t.exposeFloat('rpoSeconds'),
      automatic: t.exposeBoolean('automatic'),
      affectedSystems: t.exposeStringList('affectedSystems'),
      problem: t.string({ nullable: true, resolve: (s) => s.problem ?? null }),
    }),
  });
  const RecoveryStatus = b.objectRef<object>('RecoveryStatus').implement({
    description: 'Recoveries running now, the last DR test, and how ready the critical systems are.',
    fields: (t) => ({
      activeRecoveries: t.field({ type: [Execution], resolve: () => drOrchestrator.activeExecutions() }),
      lastTest: t.field({ type: Execution, nullable: true, resolve: () => drOrchestrator.lastRecoveryTest() }),
      readinessScore: t.float({
        nullable: true,
        description: 'Share of critical systems ready to recover, 0 to 100 (the executive dashboard’s BC readiness); null without critical systems.',
        resolve: () => continuityManager.generateExecutiveDashboard().summaryMetrics.businessContinuityReadiness,
      }),
    }),
  });
  const Approval = b.objectRef<{ executionId: string; stepId: string; decision: string; by: string; reason: string | null; at: string }>('Approval').implement({
    fields: (t) => ({
      executionId: t.exposeString('executionId'),
      stepId: t.exposeString('stepId'),
      decision: t.exposeString('decision'),
      by: t.exposeString('by'),
      reason: t.exposeString('reason', { nullable: true }),
      at: t.field({ type: 'DateTime', resolve: (a) => a.at }),
    }),
  });

  b.queryFields((t) => ({
    recoveryStatus: t.field({
      type: RecoveryStatus,
      resolve: async (_root, _args, ctx) => {
        await deps.guard(ctx, 'read', 'recoveryStatus');
        return {};
      },
    }),
    scenarios: t.field({
      type: [Scenario],
      resolve: async (_root, _args, ctx) => {
        await deps.guard(ctx, 'read', 'scenarios');
        return drOrchestrator.listScenarios();
      },
    }),
    drExecutions: t.field({
      type: [Execution],
      args: { scenarioId: t.arg.string(), since: t.arg.string(), limit: t.arg.int() },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'read', 'drExecutions');
        return drOrchestrator.getHistory({ scenarioId: args.scenarioId ?? undefined, since: args.since ?? undefined, limit: args.limit ?? undefined });
      },
    }),
    drExecution: t.field({
      type: Execution,
      args: { id: t.arg.string({ required: true }) },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'read', 'drExecution');
        return drOrchestrator.getRecoveryStatus(args.id);
      },
    }),
  }));

  b.mutationFields((t) => ({
    triggerRecovery: t.field({
      type: Execution,
      description: 'Starts a scenario’s recovery and returns the execution as recorded (follow it with `executionProgress`); a dry run returns once planned.',
      args: { scenarioId: t.arg.string({ required: true }), dryRun: t.arg.boolean(), at: t.arg.string(), reason: t.arg.string() },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'operate', 'triggerRecovery');
        const options = { triggeredBy: deps.who(ctx), ...(args.at ? { at: args.at } : {}), ...(args.reason ? { reason: args.reason } : {}) };
        if (args.dryRun) return deps.operations.track(drOrchestrator.triggerRecovery(args.scenarioId, { ...options, dryRun: true }));
        const id = await deps.operations.start((signal, onCreated) => drOrchestrator.triggerRecovery(args.scenarioId, { ...options, signal, onCreated }));
        return drOrchestrator.getRecoveryStatus(id);
      },
    }),
    approveStep: t.field({
      type: Approval,
      description: 'Decides a waiting approval step (the only one waiting when `stepId` is not given).',
      args: { executionId: t.arg.string({ required: true }), stepId: t.arg.string(), approve: t.arg.boolean({ defaultValue: true }), reason: t.arg.string() },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'operate', 'approveStep');
        const decision = { stepId: args.stepId ?? undefined, by: deps.who(ctx), reason: args.reason ?? undefined };
        return args.approve === false ? drOrchestrator.reject(args.executionId, decision) : drOrchestrator.approve(args.executionId, decision);
      },
    }),
  }));

  b.subscriptionFields((t) => ({
    executionProgress: t.field({
      type: Execution,
      description: 'An execution from now to its end: progress, ETA and steps each time they change.',
      args: { id: t.arg.string({ required: true }) },
      subscribe: async (_root, args, ctx) => {
        await deps.guard(ctx, 'read', 'executionProgress');
        const { id } = drOrchestrator.getRecoveryStatus(args.id);
        return pollChanges(
          () => drOrchestrator.getRecoveryStatus(id),
          (e) => ENDED.has(e.status),
          deps.pollMs,
          deps.subscriptionsEnd,
        );
      },
      resolve: (execution: ExecutionView) => execution,
    }),
  }));
}
