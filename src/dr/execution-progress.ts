import type { DrExecutionRecord, DrStepRecord } from '../catalog/dr-executions-table.js';

/**
 * Progress and ETA of an execution from its record alone, so `dr status` in another
 * shell computes what the executor sees. Each step's `weight` is its expected duration
 * in seconds (step-estimates.ts), so progress is the share of the expected time done
 * and the ETA the expected time left. A running step counts by what it reported (a
 * restore: bytes written of the total, moving on at its own pace between reports) or
 * else by its elapsed time against its estimate, never past 95 % until it ends or
 * reports more.
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
  /**
   * The step's share (0–1) shown when the report was written, where it is above
   * done/total: where the previous report had brought progress by then. A report behind
   * it (the step slowed down) does not move progress back.
   */
  shown?: number;
}

const FINISHED_STEP = new Set(['succeeded', 'failed', 'skipped', 'rolled-back']);
const ENDED_EXECUTION = new Set(['planned', 'succeeded', 'failed', 'rolled-back']);

/** Below this share a rate is too noisy to extrapolate from. */
const MIN_FRACTION_FOR_RATE = 0.02;
/** How far a running step goes by its estimate or its pace alone. */
const UNREPORTED_CAP = 0.95;

/** The step's report of this run of it: one made before it started (an attempt before an interruption, resumed) tells nothing of this one. */
function stepReport(step: DrStepRecord): StepProgressReport | undefined {
  const output = step.output as { progress?: StepProgressReport } | null;
  const p = output?.progress;
  if (!p || typeof p.done !== 'number' || typeof p.total !== 'number' || !(p.total > 0) || !step.startedAt) return undefined;
  return Date.parse(p.at) >= Date.parse(step.startedAt) ? p : undefined;
}

/** How far a running step is (0–1) and how many seconds it still needs. */
function runningStep(step: DrStepRecord, now: number): { fraction: number; remainingSeconds: number } {
  const elapsed = step.startedAt ? Math.max(0, (now - Date.parse(step.startedAt)) / 1000) : 0;
  const byTime = (seconds: number) => (step.weight > 0 ? Math.min(UNREPORTED_CAP, seconds / step.weight) : 0);
  const report = stepReport(step);
  if (!report) {
    if (step.weight <= 0) return { fraction: 0, remainingSeconds: 0 };
    return { fraction: byTime(elapsed), remainingSeconds: Math.max(step.weight * 0.05, step.weight - elapsed) };
  }
  const reported = Math.min(1, report.done / report.total);
  const shownBefore = Math.max(reported, report.shown ?? 0);
  if (reported < MIN_FRACTION_FOR_RATE) return { fraction: Math.max(shownBefore, byTime(elapsed)), remainingSeconds: Math.max(0, step.weight - elapsed) };
  const elapsedAtReport = Math.max(0.001, (Date.parse(report.at) - Date.parse(step.startedAt!)) / 1000);
  const sinceReport = Math.max(0, elapsed - elapsedAtReport);
  // What is left at the step's own pace so far.
  const leftAtReport = (elapsedAtReport * (1 - reported)) / reported;
  // Never below the elapsed share of the estimate at the report; after it, on towards the
  // end as the ETA counts down to it, so a poll between two reports sees it move.
  const atReport = Math.max(shownBefore, byTime(elapsedAtReport));
  const fraction = leftAtReport > 0 ? Math.max(atReport, Math.min(UNREPORTED_CAP, atReport + ((1 - atReport) * sinceReport) / leftAtReport)) : atReport;
  return { fraction, remainingSeconds: Math.max(0, leftAtReport - sinceReport) };
}

/** The share (0–1) of a running step that progress shows at `now`. */
export function runningStepShare(step: DrStepRecord, now: Date): number {
  return runningStep(step, now.getTime()).fraction;
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
