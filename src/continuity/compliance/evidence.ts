import type { AssessmentRecord, FindingRecord } from '../../catalog/assessments-table.js';
import type { AuditEntry, AuditVerification } from '../../catalog/audit-log.js';
import type { BackupRecord } from '../../catalog/backups-table.js';
import { type DrExecutionRecord, isDrTest } from '../../catalog/dr-executions-table.js';
import type { IncidentRecord } from '../../catalog/incidents-table.js';
import type { RunRecord } from '../../catalog/runs-table.js';
import { type DrRecoveryPlan, type DrScenario, listScenarios, recoveryPlansById } from '../../config/dr-schema.js';
import type { BkdrConfig } from '../../config/schema.js';
import { intervalMs, nextRuns, planSchedule } from '../../scheduling/schedule-plan.js';
import { analyseBusinessImpact, type BiaResult } from '../business-impact.js';
import type { ContinuityContext } from '../continuity-context.js';
import { type Kpi, measureKpis } from '../kpis.js';
import { listRisks, type RegisterRisk } from '../risk-register.js';

type DrSystem = NonNullable<BkdrConfig['systems']>[number];

/** A test restore as evidence: from a verify run with `--test-restore`, or a DR test's restore step. */
export interface TestRestoreEvidence {
  at: string;
  source: string;
  destination: string | null;
  durationMs: number | null;
  ok: boolean;
  from: 'verify' | 'dr-test';
}

/**
 * Everything an assessment reads, gathered once (DESIGN.md "Business continuity": an
 * evidence module reads the records once per assessment; controls are pure functions
 * of it). Windows reach 400 days back: the longest a default rule looks (365 d) plus
 * room for overrides.
 */
export interface Evidence {
  now: Date;
  config: BkdrConfig;
  systems: DrSystem[];
  sources: { name: string; type: string; scheduleIntervalMs: number | null; continuous: boolean }[];
  destinations: { name: string; type: string; encrypted: boolean; offsite: boolean }[];
  scenarios: DrScenario[];
  plans: Map<string, DrRecoveryPlan>;
  /** Newest first, every kind (backup, verify, restore, prune, ...). */
  runs: RunRecord[];
  backups: BackupRecord[];
  testRestores: TestRestoreEvidence[];
  /** Not dry runs, newest first. */
  executions: DrExecutionRecord[];
  /** Dry runs, newest first. */
  dryRuns: DrExecutionRecord[];
  audit: { entries: AuditEntry[]; chain: AuditVerification };
  risks: RegisterRisk[];
  incidents: IncidentRecord[];
  bia: BiaResult;
  /** Open findings of every framework, earliest due first: whether they are settled in time is itself evidence (ISO 22301 8.6). */
  findings: FindingRecord[];
  /** The KPIs as of now (ISO 22301 9.1); compliance_score among them reads the assessments stored before this one. */
  kpis: Kpi[];
  /** Earlier assessments of every framework, newest first: regular evaluation is itself evidence (GDPR 32(1)(d)). The one being conducted is not among them. */
  assessments: AssessmentRecord[];
}

const WINDOW_DAYS = 400;

export function gatherEvidence(ctx: ContinuityContext): Evidence {
  const { config, catalog } = ctx;
  const now = ctx.now();
  const since = new Date(now.getTime() - WINDOW_DAYS * 86_400_000);
  const runs = catalog.runs.list({ limit: 100_000 }).filter((r) => r.startedAt >= since.toISOString() && r.startedAt <= now.toISOString());
  const allExecutions = catalog.drExecutions.list({ since, limit: 100_000 }).filter((e) => e.startedAt <= now.toISOString());
  const executions = allExecutions.filter((e) => !e.dryRun);
  return {
    now,
    config,
    systems: config.systems ?? [],
    sources: sourceSchedules(config, now),
    destinations: config.destinations.map((d) => ({ name: d.name as string, type: d.type, encrypted: d.encryption !== false, offsite: d.offsite ?? d.type !== 'local' })),
    scenarios: listScenarios(config),
    plans: recoveryPlansById(config),
    runs,
    backups: catalog.backups.list({}),
    testRestores: [...verifyTestRestores(runs), ...drTestRestores(executions)].sort((a, b) => b.at.localeCompare(a.at)),
    executions,
    dryRuns: allExecutions.filter((e) => e.dryRun),
    audit: { entries: catalog.audit.list({ limit: 1_000_000 }), chain: catalog.audit.verify() },
    risks: listRisks(ctx),
    incidents: catalog.incidents.list({ since, limit: 100_000 }),
    bia: analyseBusinessImpact(ctx),
    findings: catalog.assessments.findings({ open: true }),
    kpis: measureKpis(ctx).kpis,
    assessments: catalog.assessments.list({ since, limit: 100_000 }).filter((a) => a.at <= now.toISOString()),
  };
}

/** Each source with the longest gap its schedule leaves (a cron schedule's over its next runs); null without a schedule. */
function sourceSchedules(config: BkdrConfig, now: Date): Evidence['sources'] {
  const jobs = planSchedule(config);
  return Object.entries(config.sources ?? {}).map(([name, source]) => {
    const job = jobs.find((j) => (j.kind === 'backup' || j.kind === 'watch') && j.source === name);
    const continuous = job?.kind === 'watch';
    let scheduleIntervalMs: number | null = null;
    if (job && !continuous) {
      if (job.schedule.type === 'interval') scheduleIntervalMs = intervalMs(job.schedule);
      else {
        const times = nextRuns(job.schedule, now, 9, job.scheduleFrom).map((d) => d.getTime());
        scheduleIntervalMs = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
      }
    }
    return { name, type: source.type, scheduleIntervalMs: continuous ? 0 : scheduleIntervalMs, continuous };
  });
}

function verifyTestRestores(runs: RunRecord[]): TestRestoreEvidence[] {
  return runs
    .filter((r) => r.kind === 'verify')
    .flatMap((r) => {
      const summary = r.summary as { destinations?: { destination: string; testRestores?: { source: string; durationMs: number; mismatches: string[]; error?: string }[] }[] } | null;
      return (summary?.destinations ?? []).flatMap((d) =>
        (d.testRestores ?? []).map((t) => ({
          at: r.finishedAt ?? r.startedAt,
          source: t.source,
          destination: d.destination,
          durationMs: t.durationMs,
          ok: t.mismatches.length === 0 && t.error === undefined,
          from: 'verify' as const,
        })),
      );
    });
}

/** Restore steps of DR tests that ended: each is a restore tested end to end. */
function drTestRestores(executions: DrExecutionRecord[]): TestRestoreEvidence[] {
  return executions.filter(isDrTest).flatMap((e) =>
    e.steps
      .filter((s) => s.type === 'restore' && (s.status === 'succeeded' || s.status === 'failed'))
      .map((s) => {
        const output = (s.output ?? {}) as { source?: string; destination?: string };
        return {
          at: s.endedAt ?? e.startedAt,
          source: output.source ?? '',
          destination: output.destination ?? null,
          durationMs: s.startedAt && s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : null,
          ok: s.status === 'succeeded',
          from: 'dr-test' as const,
        };
      }),
  );
}

/** Records within the last `days` of the evidence's now. */
export function within<T>(items: readonly T[], days: number, now: Date, time: (item: T) => string | null | undefined): T[] {
  const from = now.getTime() - days * 86_400_000;
  return items.filter((i) => {
    const t = time(i);
    return t !== null && t !== undefined && Date.parse(t) >= from && Date.parse(t) <= now.getTime();
  });
}
