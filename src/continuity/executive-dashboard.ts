import { FAILED_RUN_STATUSES } from '../catalog/runs-table.js';
import type { DashboardBackupDay, DashboardExecution, DashboardModel, DashboardReadinessSystem, DashboardRisk, DashboardRisks } from '../report/dashboard-model.js';
import { analyseBusinessImpact, EXERCISE_WINDOW_DAYS, type BiaSystem } from './business-impact.js';
import type { ContinuityContext } from './continuity-context.js';
import { measureKpis, type Kpi } from './kpis.js';
import { RISK_GRID } from './risk-matrix.js';
import { riskRegister } from './risk-register.js';
import { latestAssessments } from './compliance/latest-assessments.js';

/**
 * The executive dashboard (CLI.md `bc dashboard`), measured from the catalog and the
 * config as of `ctx.now()`. It adds no rule of its own where one exists: the headline
 * percentages are the KPIs', the exposure is the risk register's, the exercise facts
 * are the BIA's. A figure with nothing to rest on is null, never a made-up 100.
 */

const DAY_MS = 86_400_000;
/** CONTINUITY.md "Readiness": backups verified within a week, as SOX BR-03 asks. */
export const VERIFY_WINDOW_DAYS = 7;
export const BACKUP_DAYS_SHOWN = 30;
export const RECENT_EXECUTIONS_SHOWN = 10;
export const TOP_RISKS_SHOWN = 5;
/** The catalog tables page with a limit; a window needs every record in it (SQLite's LIMIT -1: none). */
const ALL = -1;

export function generateExecutiveDashboard(ctx: ContinuityContext): DashboardModel {
  const now = ctx.now();
  const { kpis } = measureKpis(ctx);
  const kpi = (name: Kpi['name']) => kpis.find((k) => k.name === name)?.value ?? null;
  const register = riskRegister(ctx);
  const openIncidents = ctx.catalog.incidents.list({ open: true, limit: ALL, now: ctx.now() });
  const readiness = measureReadiness(ctx, now);
  const ready = readiness.filter((s) => s.ready).length;

  return {
    generatedAt: now.toISOString(),
    summaryMetrics: {
      overallAvailability: kpi('system_availability'),
      businessContinuityReadiness: readiness.length === 0 ? null : (ready / readiness.length) * 100,
      complianceScore: kpi('compliance_score'),
      riskExposure: register.exposure.score,
      backupSuccessRate: kpi('backup_success_rate'),
      openIncidents: openIncidents.length,
      // A clock runs until the authority is notified or a reason for the delay is recorded.
      gdprClocksOpen: openIncidents.filter((i) => i.gdpr?.status === 'open' || i.gdpr?.status === 'overdue').length,
      criticalKpis: kpis.filter((k) => k.status === 'critical').length,
    },
    kpis: kpis.map(({ perItem: _perItem, ...k }) => k),
    frameworks: frameworkScores(ctx, now),
    risks: risksView(register),
    recentExecutions: recentExecutions(ctx),
    backupRunsByDay: backupRunsByDay(ctx, now),
    readiness: { systems: readiness },
  };
}

function frameworkScores(ctx: ContinuityContext, now: Date): DashboardModel['frameworks'] {
  return [...latestAssessments(ctx, now).values()]
    .map((a) => ({ framework: a.framework, score: a.overallCompliance, at: a.at, failed: a.controls.filter((c) => c.status === 'fail').length }))
    .sort((a, b) => a.framework.localeCompare(b.framework));
}

function risksView(register: ReturnType<typeof riskRegister>): DashboardRisks {
  const heatMap = Array.from({ length: 5 }, () => [0, 0, 0, 0, 0]);
  const scored: DashboardRisk[] = [];
  for (const r of register.risks) {
    if (r.status !== 'open' || r.likelihood === null || r.impact === null) continue;
    heatMap[r.likelihood - 1]![r.impact - 1]!++;
    scored.push({ id: r.id, title: r.title, likelihood: r.likelihood, impact: r.impact, score: r.likelihood * r.impact, levelName: r.levelName ?? '', owner: r.owner, treatment: r.treatment });
  }
  // Highest score first; the matrix level breaks ties (it is not a function of the product), then the register's order.
  const levelOf = (r: DashboardRisk) => register.risks.find((x) => x.id === r.id)?.level ?? 0;
  const top = scored.sort((a, b) => b.score - a.score || levelOf(b) - levelOf(a)).slice(0, TOP_RISKS_SHOWN);
  return { exposure: register.exposure, heatMap, levels: RISK_GRID.map((row) => [...row]), top };
}

function recentExecutions(ctx: ContinuityContext): DashboardExecution[] {
  // Dry runs recover nothing and measure nothing: they would crowd out the executions that did.
  return ctx.catalog.drExecutions
    .list({ limit: ALL })
    .filter((e) => !e.dryRun)
    .slice(0, RECENT_EXECUTIONS_SHOWN)
    .map((e) => ({
      id: e.id,
      scenarioId: e.scenarioId,
      status: e.status,
      startedAt: e.startedAt,
      rto: { target: e.rto.targetSeconds, achieved: e.rto.achievedSeconds, met: e.rto.met },
      rpo: { target: e.rpo.targetSeconds, achieved: e.rpo.achievedSeconds, met: e.rpo.met },
    }));
}

function backupRunsByDay(ctx: ContinuityContext, now: Date): DashboardBackupDay[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const days: DashboardBackupDay[] = Array.from({ length: BACKUP_DAYS_SHOWN }, (_, i) => ({
    day: new Date(today - (BACKUP_DAYS_SHOWN - 1 - i) * DAY_MS).toISOString().slice(0, 10),
    succeeded: 0,
    failed: 0,
  }));
  const byDay = new Map(days.map((d) => [d.day, d]));
  for (const r of ctx.catalog.runs.list({ kind: 'backup', limit: ALL })) {
    // Finished runs only, as the KPI counts them: a running one has no outcome yet, and a partial one failed a destination.
    if (r.status === 'running' || r.startedAt > now.toISOString()) continue;
    const day = byDay.get(r.startedAt.slice(0, 10));
    if (!day || ctx.catalog.runLogs.wasDryRun(r.id)) continue;
    if (FAILED_RUN_STATUSES.includes(r.status)) day.failed++;
    else day.succeeded++;
  }
  return days;
}

/**
 * CONTINUITY.md "Readiness", per critical system: a scenario covering it succeeded within
 * 90 days with its RTO and RPO met, and each of its sources has a backup within the RPO
 * on a destination verified clean within 7 days. A target or a measurement that is
 * missing cannot be shown to be met, so it counts against the system.
 */
function measureReadiness(ctx: ContinuityContext, now: Date): DashboardReadinessSystem[] {
  const critical = analyseBusinessImpact(ctx).systems.filter((s) => s.criticality === 'critical');
  if (critical.length === 0) return [];
  const verified = cleanVerifies(ctx, now);
  return critical.map((system) => {
    const reasons = [...exerciseReasons(system, now), ...backupReasons(ctx, system, verified, now)];
    return { name: system.name, ready: reasons.length === 0, reasons };
  });
}

function exerciseReasons(s: BiaSystem, now: Date): string[] {
  if (s.lastExercisedAt === null) return ['no scenario covering it has run successfully'];
  const reasons: string[] = [];
  if (Date.parse(s.lastExercisedAt) < now.getTime() - EXERCISE_WINDOW_DAYS * DAY_MS) reasons.push(`last exercised ${s.lastExercisedAt.slice(0, 10)}, more than ${EXERCISE_WINDOW_DAYS} days ago`);
  for (const [label, target, achieved] of [
    ['RTO', s.rto, s.achievedRto],
    ['RPO', s.rpo, s.achievedRpo],
  ] as const) {
    if (target === null) reasons.push(`no ${label} target`);
    else if (achieved === null) reasons.push(`no achieved ${label} measured`);
    else if (achieved > target) reasons.push(`achieved ${label} ${achieved} s above its ${target} s target`);
  }
  return reasons;
}

function backupReasons(ctx: ContinuityContext, s: BiaSystem, verified: Map<string, string>, now: Date): string[] {
  if (s.sources.length === 0) return ['no backup source'];
  if (s.rpo === null) return ['no RPO to judge its backups fresh by'];
  const reasons: string[] = [];
  const freshFrom = new Date(now.getTime() - s.rpo * 1000);
  for (const source of s.sources) {
    const fresh = ctx.catalog.backups.list({ source, since: freshFrom, until: now });
    if (fresh.length === 0) reasons.push(`source ${source} has no backup within its RPO of ${s.rpo} s`);
    else if (!fresh.some((b) => verified.has(b.destination)))
      reasons.push(`no destination holding a fresh backup of ${source} (${unique(fresh.map((b) => b.destination)).join(', ')}) was verified clean within ${VERIFY_WINDOW_DAYS} days`);
  }
  return reasons;
}

/** Destinations with a clean verify finished within the window, and when (as SOX BR-03 reads verify runs). */
function cleanVerifies(ctx: ContinuityContext, now: Date): Map<string, string> {
  const from = new Date(now.getTime() - VERIFY_WINDOW_DAYS * DAY_MS).toISOString();
  const clean = new Map<string, string>();
  for (const r of ctx.catalog.runs.list({ kind: 'verify', limit: ALL })) {
    if (!r.finishedAt || r.finishedAt < from || r.finishedAt > now.toISOString()) continue;
    for (const d of (r.summary as { destinations?: { destination: string; damaged?: boolean }[] } | null)?.destinations ?? []) {
      if (d.damaged === false && !clean.has(d.destination)) clean.set(d.destination, r.finishedAt);
    }
  }
  return clean;
}

const unique = (values: readonly string[]): string[] => [...new Set(values)];
