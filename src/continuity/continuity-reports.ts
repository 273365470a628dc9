import type { BackupStatus } from '../backup/backup-status.js';
import { type DrExecutionRecord, type DrObjective, isDrTest } from '../catalog/dr-executions-table.js';
import { FAILED_RUN_STATUSES } from '../catalog/runs-table.js';
import { listScenarios } from '../config/dr-schema.js';
import { formatBytes } from '../core/bytes.js';
import { formatDuration } from '../core/duration.js';
import { type ReportDocument, type ReportSection, section } from '../report/report-document.js';
import { analyseBusinessImpact } from './business-impact.js';
import { failedIds, findingRow, isOverdue } from './compliance-report.js';
import { DAY_MS } from './compliance/framework.js';
import type { ContinuityContext } from './continuity-context.js';
import { IMPACT_NAMES, LIKELIHOOD_NAMES, riskExposure } from './risk-matrix.js';
import { listRisks } from './risk-register.js';
import { latestAssessments } from './compliance/latest-assessments.js';

/**
 * The five business continuity reports of `bc report` (the brief's backup status,
 * recovery readiness, compliance, risk and business impact), each a ReportDocument
 * built from the same records the other commands read, so a report never says
 * something `bc bia`, `bc risk list` or `compliance list` would not.
 */

export const BC_REPORTS = ['backup-status', 'recovery-readiness', 'compliance', 'risk', 'business-impact'] as const;
export type BcReportKind = (typeof BC_REPORTS)[number];

/** Windows the reports look back over. */
const RUNS_WINDOW_DAYS = 30;
const DR_TESTS_WINDOW_DAYS = 365;
/** The catalog tables page with a limit; SQLite's LIMIT -1 is none. */
const ALL = -1;

const ms = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : formatDuration(n));
const seconds = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : formatDuration(n * 1000));
const pct = (part: number, whole: number): string => `${Math.round((part / whole) * 1000) / 10} %`;

function document(ctx: ContinuityContext, title: string, sections: ReportSection[], windowDays?: number): ReportDocument {
  const now = ctx.now();
  return {
    title,
    generatedAt: now.toISOString(),
    period: windowDays === undefined ? null : { start: new Date(now.getTime() - windowDays * DAY_MS).toISOString(), end: now.toISOString() },
    sections,
  };
}

/** Backup status: the caller brings `BackupStatus` (the backup service reads the repositories for it); the runs come from the catalog. */
export function backupStatusReport(ctx: ContinuityContext, status: BackupStatus): ReportDocument {
  const now = ctx.now();
  const from = new Date(now.getTime() - RUNS_WINDOW_DAYS * DAY_MS).toISOString();
  const runs = ctx.catalog.runs.list({ kind: 'backup', limit: ALL }).filter((r) => r.startedAt >= from && r.startedAt <= now.toISOString());
  const finished = runs.filter((r) => r.status !== 'running');
  const failed = finished.filter((r) => FAILED_RUN_STATUSES.includes(r.status));
  const { rule321: r } = status;
  return document(
    ctx,
    'Backup status report',
    [
      section('Summary', {
        figures: [
          { label: 'backups', value: status.totals.backups },
          { label: 'sources', value: status.totals.sources },
          { label: 'destinations', value: status.totals.destinations },
          { label: 'data backed up', value: formatBytes(status.totals.bytes) },
          { label: `backup runs in ${RUNS_WINDOW_DAYS} d`, value: runs.length },
          { label: 'success rate', value: finished.length ? pct(finished.length - failed.length, finished.length) : 'no finished run' },
          { label: '3-2-1', value: r.met ? 'met' : 'not met' },
        ],
        paragraphs: [`3-2-1: ${r.copies} copies (the original counts), ${r.media} media, ${r.offsite} offsite.`],
      }),
      section('Last backup per source', {
        tables: [
          {
            columns: ['source', 'backup', 'time', 'destination', 'strategy', 'missing paths'],
            rows: status.lastPerSource.map((s) => [s.source, s.backupId ?? 'never backed up', s.time ?? null, s.destination ?? null, s.strategy ?? null, s.missingPaths?.join('\n') ?? null]),
          },
        ],
      }),
      section('Destinations', {
        tables: [
          {
            columns: ['destination', 'type', 'reachable', 'encrypted', 'offsite', 'backups', 'packs', 'stored', 'compression'],
            rows: status.destinations.map((d) => [
              d.name,
              d.type,
              d.reachable ? 'yes' : 'NO',
              d.encrypted ? 'yes' : 'no',
              d.offsite ? 'yes' : 'no',
              d.backups,
              d.packs,
              formatBytes(d.storedBytes),
              d.compression,
            ]),
          },
        ],
      }),
      section(`Backup runs in the last ${RUNS_WINDOW_DAYS} days`, {
        tables: [
          {
            columns: ['run', 'started', 'source', 'destinations', 'status', 'duration', 'error'],
            rows: runs.map((run) => [
              run.id,
              run.startedAt,
              run.source ?? 'all',
              run.destinations.join(', ') || null,
              run.status,
              run.finishedAt ? ms(Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : null,
              run.error,
            ]),
          },
        ],
      }),
      section('Recent failures', { tables: [{ columns: ['run', 'kind', 'status', 'started', 'error'], rows: status.recentFailures.map((f) => [f.runId, f.kind, f.status, f.startedAt, f.error]) }] }),
      ...(status.recoverable.length
        ? [
            section('Point-in-time recovery windows', {
              tables: [{ columns: ['source', 'destination', 'earliest', 'latest'], rows: status.recoverable.map((w) => [w.source, w.destination, w.earliest, w.latest]) }],
            }),
          ]
        : []),
    ],
    RUNS_WINDOW_DAYS,
  );
}

function objective(o: DrObjective): string {
  if (o.achievedSeconds === null) return '-';
  const verdict = o.met === null ? 'no target' : o.met ? 'met' : 'MISSED';
  return `${seconds(o.achievedSeconds)} of ${seconds(o.targetSeconds)} (${verdict})`;
}

/** Recovery readiness: each scenario's targets beside its last execution, and the DR tests of the year. */
export function recoveryReadinessReport(ctx: ContinuityContext): ReportDocument {
  const now = ctx.now();
  const scenarios = listScenarios(ctx.config);
  const last = new Map<string, DrExecutionRecord>();
  for (const s of scenarios) {
    // Newest first: the first real (not dry-run) execution is the last one.
    const e = ctx.catalog.drExecutions.list({ scenarioId: s.id, limit: 50 }).find((x) => !x.dryRun);
    if (e) last.set(s.id, e);
  }
  const tests = ctx.catalog.drExecutions.list({ since: new Date(now.getTime() - DR_TESTS_WINDOW_DAYS * DAY_MS), limit: ALL }).filter((e) => isDrTest(e) && !e.dryRun);
  const ended = tests.filter((e) => ['succeeded', 'failed', 'rolled-back'].includes(e.status));
  const passed = ended.filter((e) => e.status === 'succeeded').length;
  const never = scenarios.filter((s) => !last.has(s.id));
  const missed = [...last.values()].filter((e) => e.rto.met === false || e.rpo.met === false);
  return document(
    ctx,
    'Recovery readiness report',
    [
      section('Summary', {
        figures: [
          { label: 'scenarios', value: scenarios.length },
          { label: 'never executed', value: never.length },
          { label: 'last execution missed a target', value: missed.length },
          { label: `DR tests in ${DR_TESTS_WINDOW_DAYS} d`, value: tests.length },
          { label: 'DR test success rate', value: ended.length ? pct(passed, ended.length) : 'no ended test' },
        ],
        paragraphs: scenarios.length === 0 ? ['No DR scenario in the config.'] : never.length ? [`Never executed (dry runs aside): ${never.map((s) => s.id).join(', ')}.`] : [],
      }),
      section('Scenarios', {
        tables: [
          {
            columns: ['scenario', 'severity', 'systems', 'RTO target', 'RPO target', 'last execution', 'status', 'achieved RTO', 'achieved RPO'],
            rows: scenarios.map((s) => {
              const e = last.get(s.id);
              return [
                `${s.id}: ${s.name}`,
                s.severity,
                s.affectedSystems.join(', ') || null,
                ms(s.rto),
                ms(s.rpo),
                e ? `${e.id.slice(0, 8)} at ${e.startedAt} (${isDrTest(e) ? 'DR test' : e.triggeredBy})` : 'never',
                e?.status ?? null,
                e ? objective(e.rto) : null,
                e ? objective(e.rpo) : null,
              ];
            }),
          },
        ],
      }),
      section(`DR tests in the last ${DR_TESTS_WINDOW_DAYS} days`, {
        tables: [
          {
            columns: ['execution', 'scenario', 'started', 'ended', 'status', 'achieved RTO', 'achieved RPO', 'error'],
            rows: tests.map((e) => [e.id, e.scenarioId, e.startedAt, e.endedAt, e.status, objective(e.rto), objective(e.rpo), e.error]),
          },
        ],
      }),
    ],
    DR_TESTS_WINDOW_DAYS,
  );
}

/** Compliance overview: the latest assessment of each framework and every open finding. */
export function complianceOverviewReport(ctx: ContinuityContext): ReportDocument {
  const now = ctx.now();
  const latest = latestAssessments(ctx, now);
  const open = ctx.catalog.assessments.findings({ open: true });
  const scores = [...latest.values()].map((a) => a.overallCompliance);
  return document(ctx, 'Compliance report', [
    section('Summary', {
      figures: [
        { label: 'frameworks assessed', value: latest.size },
        { label: 'mean latest score', value: scores.length ? `${Math.round((scores.reduce((s, n) => s + n, 0) / scores.length) * 10) / 10} %` : 'not assessed' },
        { label: 'open findings', value: open.length },
        { label: 'overdue findings', value: open.filter((f) => isOverdue(f, now)).length },
      ],
      paragraphs: latest.size === 0 ? ['No framework assessed yet; `bkdr compliance assess <framework>` runs one.'] : [],
    }),
    section('Latest assessment per framework', {
      tables: [
        {
          columns: ['framework', 'assessment', 'assessed at', 'assessor', 'score', 'failed controls'],
          rows: [...latest.values()].map((a) => [a.framework, a.id, a.at, a.assessor, `${a.overallCompliance} %`, failedIds(a) || '-']),
        },
      ],
    }),
    section('Open findings', {
      paragraphs: ['A finding past its due date is marked OVERDUE.'],
      tables: [
        {
          columns: ['framework', 'finding', 'control', 'severity', 'title', 'opened', 'due', 'status', 'remediation'],
          rows: open.map((f) => [f.framework, ...findingRow(f, now)]),
        },
      ],
    }),
  ]);
}

/** Risk: the register, its exposure, the heat map's counts and the reviews overdue. */
export function riskReport(ctx: ContinuityContext): ReportDocument {
  const risks = listRisks(ctx);
  const open = risks.filter((r) => r.status === 'open');
  const exposure = riskExposure(risks);
  const overdue = risks.filter((r) => r.reviewOverdue);
  // Rows from almost certain down, as a heat map is read: the worst corner top right.
  const heat = [5, 4, 3, 2, 1].map((l) => [`${l} ${LIKELIHOOD_NAMES[l - 1]!}`, ...[1, 2, 3, 4, 5].map((i) => open.filter((r) => r.likelihood === l && r.impact === i).length)]);
  return document(ctx, 'Risk report', [
    section('Summary', {
      figures: [
        { label: 'risks', value: risks.length },
        { label: 'open', value: open.length },
        { label: 'exposure', value: exposure.score },
        ...Object.entries(exposure.byLevel).map(([level, n]) => ({ label: level, value: n })),
        { label: 'unscored', value: exposure.unscored },
        { label: 'reviews overdue', value: overdue.length },
      ],
      paragraphs: ['Exposure is the sum of likelihood × impact over the open risks; an open risk without a score adds nothing to it, so it is counted apart.'],
    }),
    section('Register', {
      tables: [
        {
          columns: ['risk', 'title', 'category', 'L×I', 'level', 'residual', 'owner', 'treatment', 'mitigations', 'review by', 'status', 'source'],
          rows: risks.map((r) => [
            r.id,
            r.title,
            r.category,
            r.likelihood !== null && r.impact !== null ? `${r.likelihood}×${r.impact}` : null,
            r.levelName ?? 'unscored',
            r.residualLevelName,
            r.owner,
            r.treatment,
            r.mitigations.join('\n') || null,
            r.reviewBy ? `${r.reviewBy}${r.reviewOverdue ? ' OVERDUE' : ''}` : null,
            r.status,
            r.source,
          ]),
        },
      ],
    }),
    section('Heat map (open risks)', {
      paragraphs: ['Open risks counted by likelihood (rows) and impact (columns).'],
      tables: [{ columns: ['likelihood \\ impact', ...IMPACT_NAMES.map((n, i) => `${i + 1} ${n}`)], rows: heat }],
    }),
    section('Reviews overdue', {
      tables: [{ columns: ['risk', 'title', 'owner', 'review by'], rows: overdue.map((r) => [r.id, r.title, r.owner, r.reviewBy]) }],
    }),
  ]);
}

/** Business impact: the BIA's rows and every issue it found. */
export function businessImpactReport(ctx: ContinuityContext): ReportDocument {
  const { systems } = analyseBusinessImpact(ctx);
  const withIssues = systems.filter((s) => s.issues.length > 0);
  return document(ctx, 'Business impact report', [
    section('Summary', {
      figures: [
        { label: 'systems', value: systems.length },
        { label: 'critical', value: systems.filter((s) => s.criticality === 'critical').length },
        { label: 'with issues', value: withIssues.length },
        { label: 'issues', value: withIssues.reduce((n, s) => n + s.issues.length, 0) },
      ],
      paragraphs: systems.length === 0 ? ['No systems in the config: add `systems` with their RTO, RPO and MTPD.'] : [],
    }),
    section('Systems', {
      tables: [
        {
          columns: ['system', 'criticality', 'RTO', 'RPO', 'MTPD', 'effective RTO', 'achieved RTO', 'achieved RPO', 'last exercised', 'sources', 'scenarios'],
          rows: systems.map((s) => [
            s.name,
            s.criticality,
            seconds(s.rto),
            seconds(s.rpo),
            seconds(s.mtpd),
            seconds(s.effectiveRto),
            seconds(s.achievedRto),
            seconds(s.achievedRpo),
            s.lastExercisedAt ?? 'never',
            s.sources.join(', ') || null,
            s.scenarios.join(', ') || null,
          ]),
        },
      ],
    }),
    section('Issues', {
      tables: [{ columns: ['system', 'criticality', 'issue'], rows: withIssues.flatMap((s) => s.issues.map((issue) => [s.name, s.criticality, issue])) }],
    }),
  ]);
}

/** The reports that read only the catalog and the config; backup-status also needs the caller's BackupStatus. */
export function generateBcReport(ctx: ContinuityContext, kind: BcReportKind, backupStatus?: BackupStatus): ReportDocument {
  switch (kind) {
    case 'backup-status':
      if (!backupStatus) throw new TypeError('the backup-status report needs the backup service’s status');
      return backupStatusReport(ctx, backupStatus);
    case 'recovery-readiness':
      return recoveryReadinessReport(ctx);
    case 'compliance':
      return complianceOverviewReport(ctx);
    case 'risk':
      return riskReport(ctx);
    case 'business-impact':
      return businessImpactReport(ctx);
  }
}
