import type { DrExecutionRecord } from '../catalog/dr-executions-table.js';
import type { DrContext } from './dr-context.js';

/**
 * Ends an execution the runner finished: its status, the achieved objectives, the
 * incident it opened, the audit entry. Achieved RTO counts from the detection (else the
 * trigger) to now, and only a recovery that succeeded achieved one. Achieved RPO is the
 * failure time (else the detection, else the trigger) minus the oldest point in time
 * a restore step brought back: the data written in between is what was lost.
 */
export function finishExecution(ctx: Pick<DrContext, 'catalog'>, executionId: string, outcome: 'succeeded' | 'failed' | 'rolled-back', error?: string, endedAt: Date = new Date()): DrExecutionRecord {
  const { drExecutions, incidents, audit } = ctx.catalog;
  const record = drExecutions.get(executionId)!;
  const from = Date.parse(record.detectionAt ?? record.startedAt);
  const rtoAchievedSeconds = outcome === 'succeeded' ? Math.max(0, (endedAt.getTime() - from) / 1000) : undefined;
  const restoredPoints = record.steps
    .filter((s) => s.type === 'restore' && s.status === 'succeeded')
    .map((s) => (s.output as { pointInTime?: string } | null)?.pointInTime)
    .filter((p): p is string => typeof p === 'string')
    .map((p) => Date.parse(p))
    .filter((t) => Number.isFinite(t));
  const failure = Date.parse(record.failureAt ?? record.detectionAt ?? record.startedAt);
  const rpoAchievedSeconds = restoredPoints.length > 0 ? Math.max(0, (failure - Math.min(...restoredPoints)) / 1000) : undefined;
  drExecutions.finish(executionId, outcome, {
    endedAt,
    ...(error !== undefined ? { error } : {}),
    ...(rtoAchievedSeconds !== undefined ? { rtoAchievedSeconds } : {}),
    ...(rpoAchievedSeconds !== undefined ? { rpoAchievedSeconds } : {}),
  });
  const finished = drExecutions.get(executionId)!;
  if (outcome === 'succeeded') {
    for (const incident of incidents.list({ executionId, open: true })) {
      incidents.close(incident.id, {
        at: endedAt,
        summary: `recovered by DR execution ${executionId} in ${Math.round(rtoAchievedSeconds ?? 0)} s (RTO ${finished.rto.met === false ? 'missed' : 'met'})`,
      });
    }
  }
  audit.append({
    action: 'dr.finish',
    target: record.scenarioId,
    payload: { executionId, status: outcome, error: error ?? null, rtoAchievedSeconds: rtoAchievedSeconds ?? null, rpoAchievedSeconds: rpoAchievedSeconds ?? null },
  });
  return finished;
}
