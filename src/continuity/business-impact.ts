import type { DrExecutionRecord } from '../catalog/dr-executions-table.js';
import { listScenarios } from '../config/dr-schema.js';
import type { BkdrConfig } from '../config/schema.js';
import { buildDag, formatCycle } from '../core/dag.js';
import { formatDuration } from '../core/duration.js';
import { intervalMs, nextRuns, planSchedule, type Schedule } from '../scheduling/schedule-plan.js';
import type { ContinuityContext } from './continuity-context.js';

/**
 * The business impact analysis (CONTINUITY.md "Business impact analysis"): each system's
 * objectives beside what its dependencies, schedules and last recoveries make possible,
 * and every reason the targets cannot hold, one plain sentence each. Durations are
 * SECONDS, as `bc bia --json` speaks; the config holds milliseconds.
 */

export type Criticality = 'critical' | 'high' | 'medium' | 'low';

export interface BiaSystem {
  name: string;
  criticality: Criticality | null;
  rto: number | null;
  rpo: number | null;
  /** Maximum tolerable period of disruption. */
  mtpd: number | null;
  /** The longest RTO among the system and everything it depends on, transitively: it cannot be back before what it needs. */
  effectiveRto: number | null;
  /** From the newest succeeded, non-dry-run execution (incident or drill) of a scenario covering the system. */
  achievedRto: number | null;
  achievedRpo: number | null;
  /** When a scenario covering the system last succeeded, DR tests included. */
  lastExercisedAt: string | null;
  sources: string[];
  /** Its own `scenarios` and those whose `affectedSystems` name it. */
  scenarios: string[];
  issues: string[];
}

export interface BiaResult {
  systems: BiaSystem[];
}

/** ISO 22301 8.5 as CONTINUITY.md reads it: each critical scenario exercised within 90 days. */
export const EXERCISE_WINDOW_DAYS = 90;

/** A cron schedule's interval is its largest gap over this many upcoming runs (daily at 02:00 and 14:00 is 12 h, weekdays-only spans the weekend). */
const CRON_RUNS_SAMPLED = 8;

/** How many executions per scenario are read to find the newest succeeded one. */
const EXECUTIONS_READ = 200;

type SystemConfig = NonNullable<BkdrConfig['systems']>[number];

const seconds = (ms: number | undefined): number | null => (ms === undefined ? null : ms / 1000);
const human = (s: number): string => formatDuration(s * 1000);

export function analyseBusinessImpact(ctx: ContinuityContext): BiaResult {
  const { config } = ctx;
  const systems = config.systems ?? [];
  const byName = new Map<string, SystemConfig>();
  for (const s of systems) if (!byName.has(s.name)) byName.set(s.name, s);

  const graphIssues = dependencyGraphIssues(systems);
  const intervals = sourceIntervals(config, ctx.now());
  const scenarios = listScenarios(config);
  const now = ctx.now();
  const executionsOf = memo((scenarioId: string) => ctx.catalog.drExecutions.list({ scenarioId, limit: EXECUTIONS_READ }));

  const result = systems.map((system): BiaSystem => {
    const issues: string[] = [...(graphIssues.get(system.name) ?? [])];
    const rto = seconds(system.rto);
    const rpo = seconds(system.rpo);
    const mtpd = seconds(system.mtpd);
    const sources = system.sources ?? [];
    const covering = unique([...(system.scenarios ?? []), ...scenarios.filter((s) => s.affectedSystems.includes(system.name)).map((s) => s.id)]);

    if (rto !== null && mtpd !== null && rto > mtpd) issues.push(`RTO ${human(rto)} exceeds the MTPD ${human(mtpd)}: the business cannot wait for this recovery`);

    const longest = longestDependencyRto(system, byName);
    const effectiveRto = maxOrNull(rto, longest?.rto ?? null);
    if (longest && rto !== null && longest.rto > rto) {
      const through = longest.path.length > 1 ? ` (through ${longest.path.slice(0, -1).join(' → ')})` : '';
      issues.push(`effective RTO ${human(longest.rto)} exceeds its RTO ${human(rto)}: dependency ${longest.name}${through} has an RTO of ${human(longest.rto)}`);
    }

    for (const source of sources) {
      const interval = intervals.get(source);
      if (interval === undefined) issues.push(`source ${source} is not in the config's sources`);
      else if (interval === null) {
        if (rpo !== null) issues.push(`source ${source} has no schedule, so nothing holds its backups within the RPO ${human(rpo)}`);
      } else if (rpo !== null && interval.seconds > rpo) {
        issues.push(`RPO ${human(rpo)} is shorter than the ${human(interval.seconds)} interval of source ${source}'s schedule (${interval.from}): it cannot be met`);
      }
    }

    const executions = covering.flatMap((id) => executionsOf(id)).filter((e) => e.status === 'succeeded' && !e.dryRun);
    const newest = newestFinished(executions);
    const achievedRto = newest?.rto.achievedSeconds ?? null;
    const achievedRpo = newest?.rpo.achievedSeconds ?? null;
    const lastExercisedAt = newest ? (newest.endedAt ?? newest.startedAt) : null;
    if (newest && achievedRto !== null && rto !== null && achievedRto > rto)
      issues.push(`achieved RTO ${human(achievedRto)} (execution ${newest.id.slice(0, 8)} of ${newest.scenarioId}) is above the RTO ${human(rto)}`);
    if (newest && achievedRpo !== null && rpo !== null && achievedRpo > rpo)
      issues.push(`achieved RPO ${human(achievedRpo)} (execution ${newest.id.slice(0, 8)} of ${newest.scenarioId}) is above the RPO ${human(rpo)}`);

    if (system.criticality === 'critical') {
      if (sources.length === 0) issues.push('critical system without a backup source');
      if (covering.length === 0) issues.push('critical system without a DR scenario');
      else {
        const cutoff = now.getTime() - EXERCISE_WINDOW_DAYS * 86_400_000;
        if (lastExercisedAt === null) issues.push(`critical system whose scenarios (${covering.join(', ')}) have never run successfully`);
        else if (Date.parse(lastExercisedAt) < cutoff)
          issues.push(`critical system whose scenarios (${covering.join(', ')}) last ran successfully on ${lastExercisedAt.slice(0, 10)}, more than ${EXERCISE_WINDOW_DAYS} days ago`);
      }
    }

    return {
      name: system.name,
      criticality: system.criticality ?? null,
      rto,
      rpo,
      mtpd,
      effectiveRto,
      achievedRto,
      achievedRpo,
      lastExercisedAt,
      sources: [...sources],
      scenarios: covering,
      issues,
    };
  });
  return { systems: result };
}

/** Unknown dependencies, duplicate names and cycles, by the system they concern; a cycle is told to each of its members. */
function dependencyGraphIssues(systems: readonly SystemConfig[]): Map<string, string[]> {
  const issues = new Map<string, string[]>();
  const add = (name: string, issue: string) => issues.set(name, [...(issues.get(name) ?? []), issue]);
  const built = buildDag(systems.map((s) => ({ id: s.name, dependsOn: s.dependencies })));
  if (built.ok) return issues;
  for (const p of built.problems) {
    if (p.kind === 'duplicate') add(p.node, `the config names system ${p.node} more than once; only the first is analysed for dependencies`);
    else if (p.kind === 'unknown-dependency') add(p.node, `depends on ${p.missing}, which is not a system in the config`);
    // The DAG gives running order (each after the one before it): read as "each needs the one before it".
    else for (const node of p.nodes) add(node, `dependency cycle ${formatCycle(p.nodes)}: each needs the one before it, so no recovery order exists`);
  }
  return issues;
}

/** The dependency (reached transitively, cycles walked once) with the longest RTO, and the path to it. */
function longestDependencyRto(system: SystemConfig, byName: ReadonlyMap<string, SystemConfig>): { name: string; rto: number; path: string[] } | undefined {
  let best: { name: string; rto: number; path: string[] } | undefined;
  const seen = new Set([system.name]);
  // Breadth first: among equal RTOs the nearest dependency is named, which reads best.
  const queue: { name: string; path: string[] }[] = (system.dependencies ?? []).map((d) => ({ name: d, path: [d] }));
  while (queue.length > 0) {
    const { name, path } = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const dep = byName.get(name);
    if (!dep) continue;
    const rto = seconds(dep.rto);
    if (rto !== null && (best === undefined || rto > best.rto)) best = { name, rto, path };
    for (const next of dep.dependencies ?? []) queue.push({ name: next, path: [...path, next] });
  }
  return best;
}

/**
 * Each configured source's backup interval in seconds, with where the schedule comes
 * from; null when it has no schedule. A continuous source (a file watcher) counts as 0:
 * it backs up as changes happen.
 */
function sourceIntervals(config: BkdrConfig, now: Date): Map<string, { seconds: number; from: string } | null> {
  const intervals = new Map<string, { seconds: number; from: string } | null>(Object.keys(config.sources).map((name) => [name, null]));
  for (const job of planSchedule(config)) {
    if (job.kind === 'backup') intervals.set(job.source, { seconds: scheduleIntervalMs(job.schedule, now, job.scheduleFrom) / 1000, from: job.scheduleFrom });
    else if (job.kind === 'watch') intervals.set(job.source, { seconds: 0, from: job.scheduleFrom });
  }
  return intervals;
}

function scheduleIntervalMs(schedule: Schedule, now: Date, path: string): number {
  if (schedule.type === 'interval') return intervalMs(schedule);
  const runs = nextRuns(schedule, now, CRON_RUNS_SAMPLED, path).map((d) => d.getTime());
  let largest = 0;
  for (let i = 1; i < runs.length; i++) largest = Math.max(largest, runs[i]! - runs[i - 1]!);
  return largest;
}

function newestFinished(executions: readonly DrExecutionRecord[]): DrExecutionRecord | undefined {
  const at = (e: DrExecutionRecord) => Date.parse(e.endedAt ?? e.startedAt);
  let newest: DrExecutionRecord | undefined;
  for (const e of executions) if (newest === undefined || at(e) > at(newest)) newest = e;
  return newest;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function memo<T>(fn: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    if (!cache.has(key)) cache.set(key, fn(key));
    return cache.get(key)!;
  };
}
