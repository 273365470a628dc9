import type { Catalog } from '../catalog/catalog.js';
import type { PlanGraphStep } from './plan-graph.js';

/**
 * Expected step durations in seconds: the weights progress and ETA are computed from
 * (execution-progress.ts). Measured first: the median of the same step's past runs in
 * the same scenario; for a restore never run before, the size of the newest backup of
 * its source over the throughput of that source's past restores. Typical figures only
 * where nothing was measured.
 */
export interface EstimateHistory {
  /** Seconds the step took in past executions of the scenario that were not dry runs, newest first. */
  pastStepSeconds(scenarioId: string, stepId: string): number[];
  /** Bytes per second of past restores of the source; undefined when none was measured. */
  restoreBytesPerSecond(source: string): number | undefined;
  /** Bytes of the newest backup of the source. */
  newestBackupBytes(source: string): number | undefined;
}

/** Where nothing was measured: a local disk restores at least this fast. */
const ASSUMED_RESTORE_BYTES_PER_SECOND = 100 * 1024 * 1024;
const TYPICAL_SECONDS: Record<string, number> = { command: 5, http: 2, tcp: 1, sql: 2, notify: 1, approval: 1, backup: 60, verify: 30, restore: 60 };

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function estimateStepSeconds(scenarioId: string, graphStep: PlanGraphStep, history: EstimateHistory): number {
  const step = graphStep.step as PlanGraphStep['step'] & { weight?: number; duration?: number; source?: string };
  if (typeof step.weight === 'number') return step.weight;
  const past = median(history.pastStepSeconds(scenarioId, graphStep.id).slice(0, 5));
  if (past !== undefined) return Math.max(0.1, past);
  if (step.type === 'wait' && typeof step.duration === 'number') return step.duration / 1000;
  if (step.type === 'restore' && typeof step.source === 'string') {
    const bytes = history.newestBackupBytes(step.source);
    if (bytes !== undefined) return Math.max(1, bytes / (history.restoreBytesPerSecond(step.source) ?? ASSUMED_RESTORE_BYTES_PER_SECOND));
  }
  return TYPICAL_SECONDS[step.type] ?? 5;
}

/** The history a catalog holds: DR executions, restore runs, cached backups. */
export function catalogHistory(catalog: Pick<Catalog, 'drExecutions' | 'runs' | 'backups'>): EstimateHistory {
  const executions = new Map<string, ReturnType<Catalog['drExecutions']['list']>>();
  const pastOf = (scenarioId: string) => {
    let list = executions.get(scenarioId);
    if (!list) {
      list = catalog.drExecutions.list({ scenarioId, limit: 20 }).filter((e) => !e.dryRun);
      executions.set(scenarioId, list);
    }
    return list;
  };
  return {
    pastStepSeconds(scenarioId, stepId) {
      return pastOf(scenarioId).flatMap((e) => {
        const s = e.steps.find((x) => x.id === stepId);
        return s?.status === 'succeeded' && s.startedAt && s.endedAt ? [(Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000] : [];
      });
    },
    restoreBytesPerSecond(source) {
      const rates = catalog.runs
        .list({ kind: 'restore', status: 'succeeded', limit: 50 })
        .filter((r) => r.source === source && r.finishedAt)
        .flatMap((r) => {
          const bytes = (r.summary as { bytes?: unknown } | null)?.bytes;
          const seconds = (Date.parse(r.finishedAt!) - Date.parse(r.startedAt)) / 1000;
          return typeof bytes === 'number' && bytes > 0 && seconds > 0 ? [bytes / seconds] : [];
        });
      return median(rates.slice(0, 5));
    },
    newestBackupBytes(source) {
      return catalog.backups.list({ source })[0]?.bytes;
    },
  };
}
