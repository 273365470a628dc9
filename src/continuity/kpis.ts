import { type DrExecutionRecord, isDrTest } from '../catalog/dr-executions-table.js';
import { FAILED_RUN_STATUSES, type RunRecord } from '../catalog/runs-table.js';
import { KPI_NAMES } from '../config/dr-schema.js';
import type { ContinuityContext } from './continuity-context.js';
import { latestAssessments } from './compliance/latest-assessments.js';

/**
 * The nine KPIs of CONTINUITY.md "KPIs", measured from the catalog's records (runs,
 * backups, health samples, DR executions, incidents, pack checks) as of `ctx.now()`.
 *
 * Rules every KPI follows:
 * - a KPI with no records to rest on is `no-data`, never `ok` and never 100 %;
 * - higher-better: value < critical → critical, value < warning → warning;
 *   lower-better: value > critical → critical, value > warning → warning;
 * - warning and critical come from `kpiThresholds`, else from DEFAULTS below.
 *
 * Defaults (the brief's targets, with a warning at the target and a critical some way past it):
 *
 * | KPI                     | target | warning | critical | why the critical                               |
 * |-------------------------|--------|---------|----------|------------------------------------------------|
 * | system_availability     | 99.9 % | 99.9    | 99.0     | ~7 h down a month                              |
 * | mean_time_to_recovery   | 30 min | 30      | 60       | twice the brief's RTO                          |
 * | recovery_time_achieved  | 30 min | 30      | 60       | twice the brief's RTO                          |
 * | recovery_point_achieved | 5 min  | 5       | 15       | three times the brief's RPO                    |
 * | backup_success_rate     | 99.5 % | 99.5    | 95       | SOX BR-02's floor (CONTINUITY.md)              |
 * | dr_test_success_rate    | 100 %  | 100     | 80       | one test in five failing                       |
 * | compliance_score        | 95 %   | 95      | 80       | a fifth of the applicable controls failing     |
 * | hours_since_last_backup | 24 h   | 24      | 48       | a daily schedule missed twice                  |
 * | verify_coverage         | 100 %  | 90      | 50       | half the pack data unread for a month          |
 */

export type KpiName = (typeof KPI_NAMES)[number];
export type KpiStatus = 'ok' | 'warning' | 'critical' | 'no-data';
export type KpiUnit = '%' | 'minutes' | 'hours';
export type KpiDirection = 'higher-better' | 'lower-better';

/** One source, scenario, health check or destination of a KPI measured "per ...". */
export interface KpiItem {
  name: string;
  value: number | null;
  samples: number;
  detail: string;
  /** A per-item target where the item has its own (a scenario's RTO or RPO, in the KPI's unit). */
  target?: number;
}

export interface Kpi {
  name: KpiName;
  value: number | null;
  unit: KpiUnit;
  direction: KpiDirection;
  target: number;
  warning: number;
  critical: number;
  status: KpiStatus;
  /** How many records the value rests on (runs, samples, executions, sources...). */
  samples: number;
  /** One sentence saying what was counted. */
  detail: string;
  perItem?: KpiItem[];
}

export interface KpiResult {
  kpis: Kpi[];
}

interface KpiDefinition {
  unit: KpiUnit;
  direction: KpiDirection;
  target: number;
  warning: number;
  critical: number;
}

export const KPI_DEFINITIONS: Record<KpiName, KpiDefinition> = {
  system_availability: { unit: '%', direction: 'higher-better', target: 99.9, warning: 99.9, critical: 99.0 },
  mean_time_to_recovery: { unit: 'minutes', direction: 'lower-better', target: 30, warning: 30, critical: 60 },
  recovery_time_achieved: { unit: 'minutes', direction: 'lower-better', target: 30, warning: 30, critical: 60 },
  recovery_point_achieved: { unit: 'minutes', direction: 'lower-better', target: 5, warning: 5, critical: 15 },
  backup_success_rate: { unit: '%', direction: 'higher-better', target: 99.5, warning: 99.5, critical: 95 },
  dr_test_success_rate: { unit: '%', direction: 'higher-better', target: 100, warning: 100, critical: 80 },
  compliance_score: { unit: '%', direction: 'higher-better', target: 95, warning: 95, critical: 80 },
  hours_since_last_backup: { unit: 'hours', direction: 'lower-better', target: 24, warning: 24, critical: 48 },
  verify_coverage: { unit: '%', direction: 'higher-better', target: 100, warning: 90, critical: 50 },
};

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** The catalog tables page with a limit; a KPI window needs every record in it (SQLite's LIMIT -1: none). */
const ALL = -1;

interface Measurement {
  value: number | null;
  samples: number;
  detail: string;
  perItem?: KpiItem[];
  /** Set when something the value cannot show is worse than the value (a source never backed up). */
  forceStatus?: KpiStatus;
}

export function measureKpis(ctx: ContinuityContext): KpiResult {
  const now = ctx.now();
  const measures: Record<KpiName, () => Measurement> = {
    system_availability: () => systemAvailability(ctx, now),
    mean_time_to_recovery: () => meanTimeToRecovery(ctx, now),
    recovery_time_achieved: () => lastAchieved(ctx, 'rto'),
    recovery_point_achieved: () => lastAchieved(ctx, 'rpo'),
    backup_success_rate: () => backupSuccessRate(ctx, now),
    dr_test_success_rate: () => drTestSuccessRate(ctx, now),
    compliance_score: () => complianceScore(ctx, now),
    hours_since_last_backup: () => hoursSinceLastBackup(ctx, now),
    verify_coverage: () => verifyCoverage(ctx, now),
  };
  return {
    kpis: KPI_NAMES.map((name) => {
      const def = KPI_DEFINITIONS[name];
      const configured = ctx.config.kpiThresholds?.[name];
      const warning = configured?.warning ?? def.warning;
      const critical = configured?.critical ?? def.critical;
      const m = measures[name]();
      const status: KpiStatus = m.samples === 0 || m.value === null ? 'no-data' : (m.forceStatus ?? statusOf(m.value, def.direction, warning, critical));
      return {
        name,
        value: m.samples === 0 ? null : m.value,
        unit: def.unit,
        direction: def.direction,
        target: def.target,
        warning,
        critical,
        status,
        samples: m.samples,
        detail: m.detail,
        ...(m.perItem ? { perItem: m.perItem } : {}),
      };
    }),
  };
}

export function statusOf(value: number, direction: KpiDirection, warning: number, critical: number): Exclude<KpiStatus, 'no-data'> {
  if (direction === 'higher-better') return value < critical ? 'critical' : value < warning ? 'warning' : 'ok';
  return value > critical ? 'critical' : value > warning ? 'warning' : 'ok';
}

const since = (now: Date, days: number): Date => new Date(now.getTime() - days * DAY_MS);
const pct = (part: number, whole: number): number => (part / whole) * 100;
const round1 = (n: number): string => (Math.round(n * 10) / 10).toFixed(1);

function systemAvailability(ctx: ContinuityContext, now: Date): Measurement {
  const from = since(now, 30);
  const overall = ctx.catalog.healthSamples.availability({ from, to: now });
  if (overall.samples === 0) return { value: null, samples: 0, detail: 'no health-check samples in 30 days (`dr watch` records them)' };
  // Every check that has samples in the window, not only those in today's config: a renamed check still counted then.
  const checks = ctx.catalog.db.prepare('SELECT DISTINCT check_name AS name FROM health_samples WHERE at >= ? AND at < ? ORDER BY check_name').all(from.toISOString(), now.toISOString()) as {
    name: string;
  }[];
  const perItem = checks.map(({ name }) => {
    const a = ctx.catalog.healthSamples.availability({ from, to: now, check: name });
    return { name, value: a.percent, samples: a.samples, detail: `${a.ok} of ${a.samples} samples passed` };
  });
  return { value: overall.percent, samples: overall.samples, detail: `${overall.ok} of ${overall.samples} health-check samples in 30 days passed`, perItem };
}

/** Real recoveries: neither a dry run nor a DR test (a test measures readiness, not how long an outage lasted). */
const isRecovery = (e: DrExecutionRecord): boolean => !e.dryRun && !isDrTest(e);

function meanTimeToRecovery(ctx: ContinuityContext, now: Date): Measurement {
  const from = since(now, 90);
  const durations: number[] = [];
  for (const e of ctx.catalog.drExecutions.list({ since: from, limit: ALL })) {
    if (!isRecovery(e) || e.status !== 'succeeded' || !e.endedAt) continue;
    durations.push(Date.parse(e.endedAt) - Date.parse(e.detectionAt ?? e.startedAt));
  }
  // An incident opened by an execution is the same recovery; only incidents handled outside bkdr's executor add to it.
  for (const i of ctx.catalog.incidents.list({ since: from, open: false, limit: ALL })) {
    if (i.executionId !== null || !i.closedAt) continue;
    durations.push(Date.parse(i.closedAt) - Date.parse(i.openedAt));
  }
  if (durations.length === 0) return { value: null, samples: 0, detail: 'no recovery ended in 90 days' };
  const mean = durations.reduce((a, b) => a + b, 0) / durations.length / MINUTE_MS;
  return { value: mean, samples: durations.length, detail: `mean of ${durations.length} recoveries in 90 days, from detection to end` };
}

function lastAchieved(ctx: ContinuityContext, which: 'rto' | 'rpo'): Measurement {
  const label = which.toUpperCase();
  const newest = new Map<string, DrExecutionRecord>();
  // Newest first: the first execution of each scenario with an achieved value is its last.
  for (const e of ctx.catalog.drExecutions.list({ limit: ALL })) if (!e.dryRun && e[which].achievedSeconds !== null && !newest.has(e.scenarioId)) newest.set(e.scenarioId, e);
  if (newest.size === 0) return { value: null, samples: 0, detail: `no execution or DR test has measured an ${label} yet` };
  const perItem: KpiItem[] = [...newest.values()].map((e) => {
    const o = e[which];
    const minutes = o.achievedSeconds! / 60;
    const target = o.targetSeconds === null ? undefined : o.targetSeconds / 60;
    const verdict = o.met === null ? 'no target' : o.met ? 'met' : 'missed';
    return {
      name: e.scenarioId,
      value: minutes,
      samples: 1,
      detail: `${round1(minutes)} min on ${e.startedAt.slice(0, 10)} (${isDrTest(e) ? 'DR test' : 'recovery'}), ${verdict}${target === undefined ? '' : ` against ${round1(target)} min`}`,
      ...(target === undefined ? {} : { target }),
    };
  });
  // The KPI is the worst scenario: one slow recovery is what the business would live through.
  const worst = perItem.reduce((a, b) => (b.value! > a.value! ? b : a));
  const missed = [...newest.values()].filter((e) => e[which].met === false).length;
  return { value: worst.value, samples: newest.size, detail: `worst last achieved ${label} of ${newest.size} scenarios is ${worst.name}'s; ${missed} missed their target`, perItem };
}

function backupSuccessRate(ctx: ContinuityContext, now: Date): Measurement {
  const from = since(now, 30).toISOString();
  const to = now.toISOString();
  // Finished runs only: a running one has no outcome yet. A partial run counts as failed (CONTINUITY.md).
  // A --dry-run backs nothing up: it is left out.
  const runs = ctx.catalog.runs.list({ kind: 'backup', limit: ALL }).filter((r) => r.startedAt >= from && r.startedAt <= to && r.status !== 'running' && !ctx.catalog.runLogs.wasDryRun(r.id));
  if (runs.length === 0) return { value: null, samples: 0, detail: 'no backup run in 30 days' };
  const succeeded = runs.filter((r: RunRecord) => !FAILED_RUN_STATUSES.includes(r.status)).length;
  return { value: pct(succeeded, runs.length), samples: runs.length, detail: `${succeeded} of ${runs.length} backup runs in 30 days succeeded` };
}

function drTestSuccessRate(ctx: ContinuityContext, now: Date): Measurement {
  // Ended tests only (a test in progress or interrupted has no verdict yet); dry runs test nothing.
  const tests = ctx.catalog.drExecutions.list({ since: since(now, 365), limit: ALL }).filter((e) => isDrTest(e) && !e.dryRun && ['succeeded', 'failed', 'rolled-back'].includes(e.status));
  if (tests.length === 0) return { value: null, samples: 0, detail: 'no DR test in 365 days' };
  const passed = tests.filter((e) => e.status === 'succeeded').length;
  return { value: pct(passed, tests.length), samples: tests.length, detail: `${passed} of ${tests.length} DR tests in 365 days passed` };
}

/** CONTINUITY.md: the latest score per framework, and their mean. */
function complianceScore(ctx: ContinuityContext, now: Date): Measurement {
  const latest = latestAssessments(ctx, now);
  if (latest.size === 0) return { value: null, samples: 0, detail: 'no assessment yet' };
  const perItem: KpiItem[] = [...latest].map(([framework, a]) => ({ name: framework, value: a.overallCompliance, samples: 1, detail: `assessed ${a.at}` }));
  const mean = perItem.reduce((sum, i) => sum + (i.value ?? 0), 0) / perItem.length;
  return { value: mean, samples: perItem.length, detail: `mean of the latest assessment of ${perItem.map((i) => `${i.name} (${i.value} %)`).join(', ')}`, perItem };
}

function hoursSinceLastBackup(ctx: ContinuityContext, now: Date): Measurement {
  const sources = Object.keys(ctx.config.sources ?? {});
  const perItem: KpiItem[] = sources.map((source) => {
    const newest = ctx.catalog.backups.list({ source, until: now })[0];
    if (!newest) return { name: source, value: null, samples: 0, detail: 'never backed up' };
    const hours = (now.getTime() - Date.parse(newest.time)) / HOUR_MS;
    return { name: source, value: hours, samples: 1, detail: `newest backup ${newest.id.slice(0, 8)} on ${newest.destination} at ${newest.time}` };
  });
  const measured = perItem.filter((i) => i.value !== null);
  if (measured.length === 0) return { value: null, samples: 0, detail: sources.length === 0 ? 'no source configured' : 'no source has a backup yet', perItem };
  const worst = measured.reduce((a, b) => (b.value! > a.value! ? b : a));
  const never = perItem.filter((i) => i.value === null).map((i) => i.name);
  return {
    value: worst.value,
    samples: measured.length,
    detail: `${never.length > 0 ? `never backed up: ${never.join(', ')}; ` : ''}the stalest of ${measured.length} backed-up sources is ${worst.name}, last backed up ${round1(worst.value!)} h ago`,
    perItem,
    // A source with no backup at all is staler than any age the value could show.
    ...(never.length > 0 ? { forceStatus: 'critical' as const } : {}),
  };
}

/** The part of a verify run's summary this KPI reads (verify-backups.ts). */
interface VerifySummary {
  destinations?: { destination: string; report?: { packs?: { indexed?: number } } }[];
}

function verifyCoverage(ctx: ContinuityContext, now: Date): Measurement {
  const from = since(now, 30).toISOString();
  const to = now.toISOString();
  // The newest verify of each destination in the window says how many packs its repository indexes.
  const indexed = new Map<string, number>();
  for (const run of ctx.catalog.runs.list({ kind: 'verify', limit: ALL })) {
    if (run.startedAt < from || run.startedAt > to) continue;
    for (const d of (run.summary as VerifySummary | null)?.destinations ?? []) {
      const packs = d.report?.packs?.indexed;
      if (!indexed.has(d.destination) && typeof packs === 'number') indexed.set(d.destination, packs);
    }
  }
  if (indexed.size === 0) return { value: null, samples: 0, detail: 'no verify run in 30 days' };
  let read = 0;
  let total = 0;
  const perItem: KpiItem[] = [...indexed].map(([destination, packs]) => {
    const repositoryId = ctx.catalog.backups.list({ destination })[0]?.repositoryId;
    const checked = repositoryId === undefined ? 0 : [...ctx.catalog.packChecks.lastChecked(repositoryId).values()].filter((at) => at >= from && at <= to).length;
    // Packs checked and pruned since can outnumber those indexed now.
    const covered = Math.min(checked, packs);
    read += covered;
    total += packs;
    return { name: destination, value: packs === 0 ? null : pct(covered, packs), samples: packs, detail: `${covered} of ${packs} packs read in 30 days` };
  });
  // Empty repositories hold nothing to read: no-data, not a 100 % earned by reading nothing.
  if (total === 0) return { value: null, samples: 0, detail: `the ${indexed.size} verified destinations hold no pack yet`, perItem };
  return {
    value: pct(read, total),
    samples: indexed.size,
    detail: `${read} of ${total} packs on ${indexed.size} destinations read by verify in 30 days`,
    perItem,
  };
}
