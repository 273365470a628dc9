import { type DrContext, scenarios } from './dr-context.js';
import type { ExecutionEvent, StoredPlan } from './execution-runner.js';
import { runToEnd, type TriggerResult } from './trigger-recovery.js';

/**
 * `dr resume`: takes over an interrupted execution (its process died, or was stopped)
 * and runs what is left of its stored plan: steps that finished are not run again, a
 * step that was running when it died starts over. It restores to the point in time the
 * original trigger named, kept with its plan.
 */
export async function resumeRecovery(ctx: DrContext, executionId: string, opts: { by?: string; signal?: AbortSignal; onEvent?: (e: ExecutionEvent) => void } = {}): Promise<TriggerResult> {
  const { drExecutions, audit } = ctx.catalog;
  drExecutions.reapDied();
  const record = drExecutions.claimForResume(executionId);
  audit.append({
    action: 'dr.resume',
    target: record.id,
    payload: { scenario: record.scenarioId, by: opts.by ?? 'manual', pending: record.steps.filter((s) => s.status === 'pending').map((s) => s.id) },
  });
  const at = (record.plan as StoredPlan).pointInTime;
  const scenario = scenarios(ctx).find((s) => s.id === record.scenarioId) ?? { name: record.scenarioId };
  return runToEnd(ctx, record.id, scenario, { pointInTime: at ? new Date(at) : undefined, signal: opts.signal, onEvent: opts.onEvent });
}
