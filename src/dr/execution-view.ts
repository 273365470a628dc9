import type { DrExecutionRecord, DrObjective } from '../catalog/dr-executions-table.js';
import { executionProgress } from './execution-progress.js';
import type { PreflightCheck } from './dr-preflight.js';

/** CLI.md's `dr trigger|status --json` object: what scripts, the API and the renderers read. */
export interface ExecutionView {
  id: string;
  scenarioId: string;
  status: DrExecutionRecord['status'];
  dryRun: boolean;
  triggeredBy: string;
  reason: string | null;
  progress: number;
  estimatedCompletion: string | null;
  startedAt: string;
  endedAt: string | null;
  detectionAt: string | null;
  failureAt: string | null;
  error: string | null;
  steps: ExecutionStepView[];
  rto: DrObjective;
  rpo: DrObjective;
}

export interface ExecutionStepView {
  id: string;
  planId: string;
  type: string;
  status: string;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  detail: string | null;
  /** A dry run: what was checked before anything would run. */
  preflight?: PreflightCheck[];
}

export function executionView(record: DrExecutionRecord, now: Date = new Date()): ExecutionView {
  const { progress, estimatedCompletion } = executionProgress(record, now);
  return {
    id: record.id,
    scenarioId: record.scenarioId,
    status: record.status,
    dryRun: record.dryRun,
    triggeredBy: record.triggeredBy,
    reason: record.reason,
    progress,
    estimatedCompletion,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    detectionAt: record.detectionAt,
    failureAt: record.failureAt,
    error: record.error,
    steps: record.steps.map((s) => {
      const output = (s.output ?? {}) as { detail?: string; preflight?: PreflightCheck[] };
      return {
        id: s.id,
        planId: s.planId,
        type: s.type,
        status: s.status,
        attempts: s.attempts,
        startedAt: s.startedAt,
        endedAt: s.endedAt,
        error: s.error,
        detail: typeof output.detail === 'string' ? output.detail : null,
        ...(Array.isArray(output.preflight) ? { preflight: output.preflight } : {}),
      };
    }),
    rto: record.rto,
    rpo: record.rpo,
  };
}
