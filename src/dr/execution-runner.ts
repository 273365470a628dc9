import { setTimeout as sleepFor } from 'node:timers/promises';
import type { AuditLog } from '../catalog/audit-log.js';
import type { DrExecutionRecord, DrExecutionsTable, DrStepRecord } from '../catalog/dr-executions-table.js';
import type { DrStep } from '../config/dr-schema.js';
import { buildDag, type NodeState } from '../core/dag.js';
import { InterruptedError, OperationError } from '../core/errors.js';
import { executionProgress, runningStepShare, type StepProgressReport } from './execution-progress.js';
import { type PlanGraph, type PlanGraphStep, nextSteps } from './plan-graph.js';
import { abortReason, StepFailedError, type StepContext, type StepExecutor, type StepLogLevel, type StepOutcome } from './step-executor.js';
import { runStep, type StepRunResult } from './step-runner.js';

/** The plan as an execution stores it: a resume runs the same steps even if the config changed. */
export interface StoredPlan {
  scenarioId: string;
  planIds: readonly string[];
  steps: readonly PlanGraphStep[];
  /** A DR test: steps were replaced by their `test` overrides; `skip` ones are listed here. */
  skipped?: readonly string[];
  /** `dr trigger --at`: a resume restores to the same point. */
  pointInTime?: string;
}

export function storedPlan(graph: PlanGraph, opts: { skipped?: readonly string[]; pointInTime?: Date | undefined } = {}): StoredPlan {
  return {
    scenarioId: graph.scenarioId,
    planIds: graph.planIds,
    steps: graph.steps,
    ...(opts.skipped?.length ? { skipped: opts.skipped } : {}),
    ...(opts.pointInTime ? { pointInTime: opts.pointInTime.toISOString() } : {}),
  };
}

export function planGraphOf(plan: StoredPlan): PlanGraph {
  const result = buildDag(plan.steps.map((s) => ({ id: s.id, dependsOn: s.dependsOn, rank: s.priority })));
  if (!result.ok) throw new OperationError(`the stored plan of scenario ${plan.scenarioId} is not a graph: ${JSON.stringify(result.problems)}`);
  return { scenarioId: plan.scenarioId, planIds: plan.planIds, steps: plan.steps, dag: result.dag };
}

export type ExecutionEvent =
  | { type: 'step-started'; executionId: string; stepId: string; stepType: string; attempt: number; attempts: number; at: Date }
  | { type: 'step-retrying'; executionId: string; stepId: string; attempt: number; delayMs: number; error: string; at: Date }
  | { type: 'step-waiting-approval'; executionId: string; stepId: string; message: string; approvers: readonly string[]; at: Date }
  | { type: 'step-finished'; executionId: string; stepId: string; status: DrStepRecord['status']; detail?: string; error?: string; at: Date }
  | { type: 'rollback-step'; executionId: string; stepId: string; status: 'succeeded' | 'failed'; error?: string; at: Date }
  | { type: 'progress'; executionId: string; progress: number; estimatedCompletion: string | null; running: string[]; at: Date }
  | { type: 'execution-finished'; executionId: string; status: DrExecutionRecord['status']; error?: string; at: Date };

export type StepExecutors = { readonly [T in DrStep['type']]?: StepExecutor<Extract<DrStep, { type: T }>> };

export interface ExecutionRunnerOptions {
  executions: DrExecutionsTable;
  audit: Pick<AuditLog, 'append'>;
  executors: StepExecutors;
  /** What every step gets; `log`, `execution` and `reportProgress` are added per step. */
  context: Omit<StepContext, 'log' | 'execution' | 'reportProgress'>;
  log: (level: StepLogLevel, message: string, fields?: Record<string, unknown>) => void;
  onEvent?: (e: ExecutionEvent) => void;
  signal: AbortSignal;
  /** How often an approval step looks for a decision. */
  approvalPollMs?: number;
  /** Steps running at once; independent steps beyond it wait. */
  maxParallel?: number;
  /** Step settle time after a timeout (tests shorten it). */
  settleMs?: number;
  scenarioName?: string;
}

export interface ExecutionEnd {
  status: DrExecutionRecord['status'];
  record: DrExecutionRecord;
}

const PROGRESS_WRITE_MS = 1_000;

/**
 * Runs an execution recorded in the catalog to its end (DESIGN.md "Executor"): the
 * ready steps of its plan graph in parallel, each through the step runner (timeout,
 * retries), each change written as it happens. A step that fails for good applies its
 * `onFailure`: `continue` lets its dependents run, `abort` lets running steps finish and
 * starts nothing more (`failed`), `rollback` then runs the rollbacks of the steps that
 * succeeded, newest first (`rolled-back`). Approval steps wait for the decision `dr
 * approve|reject` writes. An interruption leaves the execution `interrupted` with its
 * unfinished steps `pending`, for `dr resume`. Achieved objectives are not this
 * module's business: the caller finishes the record.
 */
export async function runExecution(executionId: string, opts: ExecutionRunnerOptions): Promise<{ outcome: 'succeeded' | 'failed' | 'rolled-back' | 'interrupted'; error?: string }> {
  const { executions, signal } = opts;
  const emit = opts.onEvent ?? (() => undefined);
  const record = executions.get(executionId);
  if (!record) throw new OperationError(`no execution ${executionId}`);
  const plan = record.plan as StoredPlan;
  const graph = planGraphOf(plan);
  const byId = new Map(graph.steps.map((s) => [s.id, s]));

  // Graph states: a step that failed with `continue`, or was skipped, lets its dependents run.
  const states = new Map<string, NodeState>();
  const completed: { id: string; endedAt: string }[] = [];
  let stop: { kind: 'abort' | 'rollback'; stepId: string; error: string } | undefined;
  for (const s of record.steps) {
    const onFailure = (byId.get(s.id)?.step as { onFailure?: string } | undefined)?.onFailure;
    if (s.status === 'succeeded' || s.status === 'skipped' || (s.status === 'failed' && onFailure === 'continue')) states.set(s.id, 'succeeded');
    else if (s.status === 'failed') {
      states.set(s.id, 'failed');
      // A resumed execution: a step that failed for good still decides how it ends (a cut-off rollback is finished).
      if (!stop || onFailure === 'rollback') stop = { kind: onFailure === 'rollback' ? 'rollback' : 'abort', stepId: s.id, error: s.error ?? `step ${s.id} failed` };
    } else states.set(s.id, 'pending');
    if (s.status === 'succeeded') completed.push({ id: s.id, endedAt: s.endedAt ?? '' });
  }
  completed.sort((a, b) => a.endedAt.localeCompare(b.endedAt));

  const running = new Map<string, Promise<void>>();
  const maxParallel = opts.maxParallel ?? 8;
  const emitProgress = () => {
    const now = executions.get(executionId);
    if (!now) return;
    const p = executionProgress(now);
    emit({ type: 'progress', executionId, ...p, running: [...running.keys()], at: new Date() });
  };

  const failWith = (graphStep: PlanGraphStep, error: string) => {
    states.set(graphStep.id, 'failed');
    const kind = (graphStep.step as { onFailure?: string }).onFailure === 'rollback' ? 'rollback' : 'abort';
    // A rollback wins over an abort whichever failed first, as on a resume: what succeeded is undone either way.
    if (!stop || (kind === 'rollback' && stop.kind !== 'rollback')) stop = { kind, stepId: graphStep.id, error };
  };

  const launch = (graphStep: PlanGraphStep) => {
    states.set(graphStep.id, 'running');
    const stopped = () => stop !== undefined;
    const done = runOne(executionId, graphStep, { ...opts, stopped, scenarioId: record.scenarioId }, emit, emitProgress).then((result) => {
      running.delete(graphStep.id);
      if (result.status === 'succeeded') {
        states.set(graphStep.id, 'succeeded');
        completed.push({ id: graphStep.id, endedAt: new Date().toISOString() });
        return;
      }
      if (result.status === 'interrupted') {
        states.set(graphStep.id, 'pending');
        return;
      }
      if (result.status === 'cancelled') {
        states.set(graphStep.id, 'skipped');
        return;
      }
      const onFailure = (graphStep.step as { onFailure?: string }).onFailure ?? 'abort';
      if (onFailure === 'continue') {
        opts.log('warn', `step ${graphStep.id} failed; its plan goes on (onFailure: continue): ${result.error}`);
        states.set(graphStep.id, 'succeeded');
        return;
      }
      failWith(graphStep, result.error ?? `step ${graphStep.id} failed`);
    });
    // Bookkeeping that throws (a busy catalog) fails the step like its own failure would, rather than the whole run.
    running.set(
      graphStep.id,
      done.catch((err: unknown) => {
        running.delete(graphStep.id);
        failWith(graphStep, `step ${graphStep.id}: ${describe(err)}`);
      }),
    );
  };

  for (;;) {
    if (!stop && !signal.aborted) {
      for (const ready of nextSteps(graph, states)) {
        if (running.size >= maxParallel) break;
        launch(ready);
      }
    }
    if (running.size === 0) break;
    emitProgress();
    await Promise.race(running.values());
  }

  const interrupted = () => {
    const why = `interrupted; \`dr resume ${executionId}\` continues it`;
    executions.markInterrupted(executionId, why);
    emit({ type: 'execution-finished', executionId, status: 'interrupted', error: why, at: new Date() });
    return { outcome: 'interrupted' as const, error: why };
  };
  if (signal.aborted) return interrupted();
  if (stop?.kind === 'rollback') {
    await rollBack(executionId, completed, byId, opts, emit);
    // A rollback cut short is finished by `dr resume`: its steps not yet undone are still `succeeded`.
    if (signal.aborted) return interrupted();
    return { outcome: 'rolled-back', error: stop.error };
  }
  if (stop) return { outcome: 'failed', error: stop.error };
  const blocked = [...states].filter(([, s]) => s !== 'succeeded').map(([id]) => id);
  if (blocked.length > 0) return { outcome: 'failed', error: `steps ${blocked.join(', ')} could not run` };
  return { outcome: 'succeeded' };
}

type OneResult = { status: 'succeeded' } | { status: 'failed'; error: string } | { status: 'interrupted'; error?: string } | { status: 'cancelled' };

/** An approval nobody needs to give any more: the execution failed meanwhile. */
class ApprovalCancelled extends Error {}

async function runOne(
  executionId: string,
  graphStep: PlanGraphStep,
  opts: ExecutionRunnerOptions & { stopped: () => boolean; scenarioId: string },
  emit: (e: ExecutionEvent) => void,
  emitProgress: () => void,
): Promise<OneResult> {
  const { executions } = opts;
  const step = graphStep.step as unknown as DrStep;
  const startedAt = new Date();
  executions.updateStep(executionId, graphStep.id, { status: 'running', startedAt, endedAt: null, error: null, attempts: 0 });
  const stepLog = (level: StepLogLevel, message: string, fields?: Record<string, unknown>) => opts.log(level, `${graphStep.id}: ${message}`, fields);
  // The first report waits a second too: one written at the very start says ~0 % and tells nothing.
  let lastWrite = Date.now();
  const context: StepContext = {
    ...opts.context,
    log: stepLog,
    execution: { id: executionId, scenarioId: opts.scenarioId, ...(opts.scenarioName ? { scenarioName: opts.scenarioName } : {}) },
    reportProgress: (done, total) => {
      const now = Date.now();
      if (now - lastWrite < PROGRESS_WRITE_MS && done < total) return;
      lastWrite = now;
      // Where the last report's pace has brought progress is where this one starts: it never steps back when the step slows.
      const before = executions.get(executionId)?.steps.find((s) => s.id === graphStep.id);
      const shown = before ? runningStepShare(before, new Date(now)) : 0;
      const progress: StepProgressReport = { done, total, at: new Date(now).toISOString(), ...(shown > done / total ? { shown } : {}) };
      executions.updateStep(executionId, graphStep.id, { output: { progress } });
      emitProgress();
    },
  };

  let result: StepRunResult;
  let lastError = '';
  try {
    if (step.type === 'approval') result = await waitForApproval(executionId, graphStep, step, opts, emit);
    else {
      const executor = opts.executors[step.type] as StepExecutor<DrStep> | undefined;
      if (!executor) throw new OperationError(`no executor for steps of type ${step.type}`);
      result = await runStep(executor, step, context, {
        signal: opts.signal,
        ...(opts.settleMs !== undefined ? { settleMs: opts.settleMs } : {}),
        onEvent: (e) => {
          if (e.type === 'attempt-started') {
            executions.updateStep(executionId, graphStep.id, { attempts: e.attempt });
            emit({ type: 'step-started', executionId, stepId: graphStep.id, stepType: step.type, attempt: e.attempt, attempts: e.attempts, at: e.at });
          } else if (e.type === 'retrying') emit({ type: 'step-retrying', executionId, stepId: graphStep.id, attempt: e.attempt, delayMs: e.delayMs, error: lastError, at: e.at });
          else if (e.type === 'attempt-failed') {
            lastError = e.timedOut ? 'timed out' : describe(e.error);
            stepLog('warn', `attempt ${e.attempt} of ${e.attempts} failed: ${lastError}`);
          }
        },
      });
    }
  } catch (err) {
    if (err instanceof InterruptedError) {
      executions.updateStep(executionId, graphStep.id, { status: 'pending', startedAt: null });
      return { status: 'interrupted', error: err.message };
    }
    if (err instanceof ApprovalCancelled) {
      executions.updateStep(executionId, graphStep.id, { status: 'skipped', endedAt: new Date(), output: { detail: 'not asked any more: the execution failed meanwhile' } });
      emit({ type: 'step-finished', executionId, stepId: graphStep.id, status: 'skipped', detail: 'the execution failed meanwhile', at: new Date() });
      return { status: 'cancelled' };
    }
    const message = describe(err);
    executions.updateStep(executionId, graphStep.id, { status: 'failed', endedAt: new Date(), error: message });
    emit({ type: 'step-finished', executionId, stepId: graphStep.id, status: 'failed', error: message, at: new Date() });
    return { status: 'failed', error: message };
  }

  if (result.status === 'succeeded') {
    executions.updateStep(executionId, graphStep.id, { status: 'succeeded', attempts: result.attempts, endedAt: result.endedAt, output: outputOf(result.outcome) });
    emit({ type: 'step-finished', executionId, stepId: graphStep.id, status: 'succeeded', ...(result.outcome?.detail ? { detail: result.outcome.detail } : {}), at: result.endedAt });
    return { status: 'succeeded' };
  }
  const error = result.error?.message ?? `step ${graphStep.id} failed`;
  executions.updateStep(executionId, graphStep.id, { status: 'failed', attempts: result.attempts, endedAt: result.endedAt, error });
  emit({ type: 'step-finished', executionId, stepId: graphStep.id, status: 'failed', error, at: result.endedAt });
  return { status: 'failed', error };
}

function outputOf(outcome: StepOutcome | undefined): Record<string, unknown> | null {
  if (!outcome) return null;
  return { ...(outcome.detail ? { detail: outcome.detail } : {}), ...outcome.output };
}

/**
 * An approval step: `waiting-approval` (the execution too) until `dr approve|reject`
 * writes a decision, or the step's timeout passes. A rejection fails the step.
 */
async function waitForApproval(
  executionId: string,
  graphStep: PlanGraphStep,
  step: Extract<DrStep, { type: 'approval' }>,
  opts: ExecutionRunnerOptions & { stopped: () => boolean },
  emit: (e: ExecutionEvent) => void,
): Promise<StepRunResult> {
  const { executions, signal } = opts;
  const startedAt = new Date();
  executions.updateStep(executionId, graphStep.id, { status: 'waiting-approval', attempts: 1 });
  executions.setStatus(executionId, 'waiting-approval');
  emit({ type: 'step-waiting-approval', executionId, stepId: graphStep.id, message: step.message, approvers: step.approvers ?? [], at: startedAt });
  opts.log('info', `${graphStep.id}: waiting for approval: ${step.message} (bkdr dr approve ${executionId} ${graphStep.id})`);
  const deadline = step.timeout === undefined ? Infinity : startedAt.getTime() + step.timeout;
  const pollMs = opts.approvalPollMs ?? 500;
  try {
    for (;;) {
      const decision = executions.decision(executionId, graphStep.id);
      if (decision) {
        const endedAt = new Date();
        const base = { attempts: 1, startedAt, endedAt, durationMs: endedAt.getTime() - startedAt.getTime() };
        if (decision.decision === 'approve') return { ...base, status: 'succeeded', outcome: { detail: `approved by ${decision.by}`, output: { by: decision.by, reason: decision.reason } } };
        return { ...base, status: 'failed', error: new StepFailedError(graphStep.id, 1, `step ${graphStep.id} was rejected by ${decision.by}${decision.reason ? `: ${decision.reason}` : ''}`) };
      }
      if (Date.now() > deadline) {
        const endedAt = new Date();
        return {
          status: 'failed',
          attempts: 1,
          startedAt,
          endedAt,
          durationMs: endedAt.getTime() - startedAt.getTime(),
          error: new StepFailedError(graphStep.id, 1, `step ${graphStep.id}: nobody approved within its timeout`),
        };
      }
      if (signal.aborted) throw new InterruptedError(`step ${graphStep.id} interrupted`, { cause: abortReason(signal) });
      // Another step failed for good: nobody is asked to approve a recovery that is already ending.
      if (opts.stopped()) throw new ApprovalCancelled();
      await sleepFor(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    // Other steps may still run: the execution is `running` again unless another approval waits.
    const others = executions.get(executionId)?.steps.some((s) => s.id !== graphStep.id && s.status === 'waiting-approval');
    if (!others && executions.get(executionId)?.status === 'waiting-approval') executions.setStatus(executionId, 'running');
  }
}

/** The `rollback` steps of each succeeded step, newest completion first; each step's list in its own order. */
async function rollBack(
  executionId: string,
  completed: readonly { id: string; endedAt: string }[],
  byId: ReadonlyMap<string, PlanGraphStep>,
  opts: ExecutionRunnerOptions,
  emit: (e: ExecutionEvent) => void,
): Promise<void> {
  const order = [...completed].reverse();
  opts.audit.append({ action: 'dr.rollback', target: executionId, payload: { steps: order.map((c) => c.id) } });
  // Rollbacks run even though the execution is ending: only an interruption stops them.
  for (const { id } of order) {
    if (opts.signal.aborted) return;
    const graphStep = byId.get(id);
    const actions = ((graphStep?.step as { rollback?: DrStep[] } | undefined)?.rollback ?? []) as DrStep[];
    const executor = graphStep ? (opts.executors[(graphStep.step as unknown as DrStep).type] as StepExecutor<DrStep> | undefined) : undefined;
    if (actions.length === 0 && !executor?.rollback) continue;
    let failed: string | undefined;
    for (const [i, action] of actions.entries()) {
      const rollbackStep = { ...action, id: action.id ?? `${id.split('/').pop()}-rollback-${i + 1}`, onFailure: 'abort' } as DrStep;
      const actionExecutor = opts.executors[rollbackStep.type] as StepExecutor<DrStep> | undefined;
      if (!actionExecutor) {
        failed = `no executor for rollback steps of type ${rollbackStep.type}`;
        break;
      }
      const context: StepContext = { ...opts.context, log: (level, message) => opts.log(level, `${id} rollback: ${message}`), execution: { id: executionId, scenarioId: '' } };
      const result = await runStep(actionExecutor, rollbackStep, context, { signal: opts.signal, ...(opts.settleMs !== undefined ? { settleMs: opts.settleMs } : {}) }).catch((err: unknown) => ({
        status: 'failed' as const,
        error: { message: describe(err) },
      }));
      if (result.status !== 'succeeded') {
        failed = result.error?.message ?? 'failed';
        break;
      }
    }
    if (!failed && executor?.rollback) {
      const step = graphStep!.step as unknown as DrStep;
      const context: StepContext = { ...opts.context, log: (level, message) => opts.log(level, `${id} rollback: ${message}`) };
      await executor.rollback(step, context, opts.signal).catch((err: unknown) => (failed = describe(err)));
    }
    if (failed && opts.signal.aborted) return;
    if (failed) {
      opts.log('error', `rollback of step ${id} failed: ${failed}`);
      opts.executions.updateStep(executionId, id, { error: `rollback failed: ${failed}` });
      emit({ type: 'rollback-step', executionId, stepId: id, status: 'failed', error: failed, at: new Date() });
      continue;
    }
    opts.executions.updateStep(executionId, id, { status: 'rolled-back' });
    emit({ type: 'rollback-step', executionId, stepId: id, status: 'succeeded', at: new Date() });
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
