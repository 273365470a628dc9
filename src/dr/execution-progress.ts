import type { DrExecutionRecord, DrStepRecord } from '../catalog/dr-executions-table.js';

/**
 * Progress and ETA of an execution from its record alone, so `dr status` in another
 * shell computes what the executor sees. Each step's `weight` is its expected duration
 * in seconds (step-estimates.ts), so progress is the share of the expected time done
 * and the ETA the expected time left. A running step counts by what it reported
 * (a restore: bytes written of the total, extrapolated at its own pace) or else by its
 * elapsed time against its estimate, never past 95 % until it ends.
 */
export interface ExecutionProgress {
  /** 0–100. */
  progress: number;
  /** ISO time; null once the execution ended or while nothing can be estimated. */
  estimatedCompletion: string | null;
}

/** What a running step reported of itself (kept in its output while it runs). */
export interface StepProgressReport {
  done: number;
  total: number;
  at: string;
}

const FINISHED_STEP = new Set(['succeeded', 'failed', 'skipped', 'rolled-back']);
const ENDED_EXECUTION = new Set(['planned', 'succeeded', 'failed', 'rolled-back']);

/** Below this share a rate is too noisy to extrapolate from. */
const MIN_FRACTION_FOR_RATE = 0.02;

export function stepReport(step: DrStepRecord): StepProgressReport | undefined {
  const output = step.output as { progress?: StepProgressReport } | null;
  const p = output?.progress;
  return p && typeof p.done === 'number' && typeof p.total === 'number' && p.total > 0 ? p : undefined;
}

/** How far a running step is (0–1) and how many seconds it still needs. */
function runningStep(step: DrStepRecord, now: number): { fraction: number; remainingSeconds: number } {
  const elapsed = step.startedAt ? Math.max(0, (now - Date.parse(step.startedAt)) / 1000) : 0;
  const report = stepReport(step);
  if (report) {
    // Never below the elapsed share of the estimate (at the report): a report behind it does not move progress back.
    const byTime = (seconds: number) => (step.weight > 0 ? Math.min(0.95, seconds / step.weight) : 0);
    const fraction = Math.min(1, report.done / report.total);
    if (fraction >= MIN_FRACTION_FOR_RATE) {
      // Its own pace so far: elapsed at the report time, scaled to what is left.
      const elapsedAtReport = step.startedAt ? Math.max(0.001, (Date.parse(report.at) - Date.parse(step.startedAt)) / 1000) : elapsed;
      const sinceReport = Math.max(0, elapsed - elapsedAtReport);
      return { fraction: Math.max(fraction, byTime(elapsedAtReport)), remainingSeconds: Math.max(0, (elapsedAtReport * (1 - fraction)) / fraction - sinceReport) };
    }
    return { fraction: Math.max(fraction, byTime(elapsed)), remainingSeconds: Math.max(0, step.weight - elapsed) };
  }
  if (step.weight <= 0) return { fraction: 0, remainingSeconds: 0 };
  const fraction = Math.min(0.95, elapsed / step.weight);
  return { fraction, remainingSeconds: Math.max(step.weight * 0.05, step.weight - elapsed) };
}

export function executionProgress(record: Pick<DrExecutionRecord, 'status' | 'steps'>, now: Date = new Date()): ExecutionProgress {
  const t = now.getTime();
  if (record.status === 'succeeded') return { progress: 100, estimatedCompletion: null };
  let total = 0;
  let done = 0;
  let remaining = 0;
  let waiting = false;
  for (const step of record.steps) {
    const weight = Math.max(0, step.weight);
    total += weight;
    if (FINISHED_STEP.has(step.status)) done += weight;
    else if (step.status === 'running') {
      const r = runningStep(step, t);
      done += weight * r.fraction;
      remaining += r.remainingSeconds;
    } else {
      if (step.status === 'waiting-approval') waiting = true;
      remaining += weight;
    }
  }
  const progress = total > 0 ? Math.min(100, Math.round((done / total) * 1000) / 10) : 0;
  // An approval takes as long as a person takes: no honest ETA while one waits.
  const ended = ENDED_EXECUTION.has(record.status) || record.status === 'interrupted';
  const estimatedCompletion = ended || waiting ? null : new Date(t + remaining * 1000).toISOString();
  return { progress, estimatedCompletion };
}
