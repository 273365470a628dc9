import type { AssessmentRecord, FindingRecord } from '../catalog/assessments-table.js';
import { type ReportCell, type ReportDocument, section } from '../report/report-document.js';
import { requireFramework } from './compliance/assess.js';
import { DAY_MS } from './compliance/framework.js';
import type { ContinuityContext } from './continuity-context.js';

export interface ReportPeriod {
  start: Date;
  end: Date;
}

/** Every assessment of a period: far more than a year of daily runs. */
const ASSESSMENTS_READ = 100_000;

/**
 * `compliance report`: a framework's assessments over a period as one document. The
 * trend is read from the assessments in the period; the controls are the latest
 * assessment's at or before the period's end (what held then); findings are as they
 * stand now, since an open finding's due date matters today, not at the period's end.
 */
export function generateComplianceReport(ctx: ContinuityContext, frameworkId: string, period: ReportPeriod): ReportDocument {
  const framework = requireFramework(frameworkId);
  const now = ctx.now();
  const { assessments: table } = ctx.catalog;
  const inPeriod = table.list({ framework: framework.id, since: period.start, until: period.end, limit: ASSESSMENTS_READ });
  const latest = table.list({ framework: framework.id, until: period.end, limit: 1 })[0];
  const open = table.findings({ framework: framework.id, open: true });
  const resolved = table
    .findings({ framework: framework.id, open: false })
    .filter((f) => f.resolvedAt !== null && f.resolvedAt >= period.start.toISOString() && f.resolvedAt <= period.end.toISOString());
  const overdue = open.filter((f) => isOverdue(f, now));

  const summary = section('Summary', {
    figures: [
      { label: 'latest score', value: latest ? `${latest.overallCompliance} %` : 'not assessed' },
      { label: 'assessments in the period', value: inPeriod.length },
      { label: 'open findings', value: open.length },
      { label: 'overdue findings', value: overdue.length },
      { label: 'findings resolved in the period', value: resolved.length },
    ],
    paragraphs: [`${framework.name} (${framework.basis}), assessed by bkdr from its own records.`, trendSentence(inPeriod)],
  });

  // Oldest first: a trend reads left to right in time.
  const chronological = [...inPeriod].reverse();
  const trend = section('Assessments in the period', {
    tables: [
      {
        columns: ['assessed at', 'assessment', 'assessor', 'scope', 'score', 'change', 'failed controls'],
        rows: chronological.map((a, i) => {
          const before = i > 0 ? chronological[i - 1] : undefined;
          return [
            a.at,
            a.id,
            a.assessor,
            a.scope.length ? a.scope.join(', ') : 'all',
            `${a.overallCompliance} %`,
            before ? signed(a.overallCompliance - before.overallCompliance) : '-',
            failedIds(a) || '-',
          ];
        }),
      },
    ],
  });

  const controls = latest
    ? section(`Controls of the latest assessment (${latest.id}, ${latest.at})`, {
        paragraphs: latest.at < period.start.toISOString() ? [`No assessment falls in the period; these are the controls of the latest one before it.`] : [],
        tables: [{ columns: ['control', 'area', 'status', 'detail', 'evidence'], rows: latest.controls.map((c) => [`${c.id}: ${c.title}`, c.area, c.status, c.detail, evidenceText(c.evidence)]) }],
      })
    : section('Controls', { paragraphs: [`${framework.id} has not been assessed by the end of the period; \`bkdr compliance assess ${framework.id}\` runs one.`] });

  const openSection = section('Open findings', {
    paragraphs: [`As of ${now.toISOString()}; a finding past its due date is marked OVERDUE.`],
    tables: [{ columns: ['finding', 'control', 'severity', 'title', 'opened', 'due', 'status', 'remediation'], rows: open.map((f) => findingRow(f, now)) }],
  });

  const resolvedSection = section('Findings resolved in the period', {
    tables: [
      {
        columns: ['finding', 'control', 'severity', 'title', 'opened', 'resolved', 'resolved by assessment'],
        rows: resolved.map((f) => [f.id, f.controlId, f.severity, f.title, f.openedAt, f.resolvedAt, f.resolvedBy]),
      },
    ],
  });

  return {
    title: `${framework.id} compliance report`,
    generatedAt: now.toISOString(),
    period: { start: period.start.toISOString(), end: period.end.toISOString() },
    sections: [summary, trend, controls, openSection, resolvedSection],
  };
}

/** A finding is due by the end of its due date (UTC). */
export function isOverdue(f: FindingRecord, now: Date): boolean {
  return Date.parse(`${f.dueDate}T23:59:59.999Z`) < now.getTime();
}

export function findingRow(f: FindingRecord, now: Date): ReportCell[] {
  // Calendar days (UTC) between today and the due date: "due in 0 d" would read oddly, so today is "due today".
  const days = Math.round((Date.parse(f.dueDate) - Date.parse(now.toISOString().slice(0, 10))) / DAY_MS);
  const status = isOverdue(f, now) ? `OVERDUE by ${-days} d` : days === 0 ? 'due today' : `due in ${days} d`;
  return [f.id, f.controlId, f.severity, f.title, f.openedAt, f.dueDate, status, f.remediation];
}

export function failedIds(a: AssessmentRecord): string {
  return a.controls
    .filter((c) => c.status === 'fail')
    .map((c) => c.id)
    .join(', ');
}

function trendSentence(newestFirst: AssessmentRecord[]): string {
  const first = newestFirst.at(-1);
  const last = newestFirst[0];
  if (!first || !last) return 'No assessment in the period.';
  if (first === last) return `One assessment in the period, scoring ${last.overallCompliance} %.`;
  const change = last.overallCompliance - first.overallCompliance;
  const direction = change > 0 ? 'rose' : change < 0 ? 'fell' : 'held';
  return `${newestFirst.length} assessments in the period; the score ${direction} from ${first.overallCompliance} % to ${last.overallCompliance} % (${signed(change)}).`;
}

const signed = (n: number): string => {
  const rounded = Math.round(n * 10) / 10;
  return `${rounded > 0 ? '+' : ''}${rounded} pt`;
};

/** The values the rule read, one `key: value` a line, so an auditor can recompute the verdict. */
export function evidenceText(evidence: Record<string, unknown>): string {
  const entries = Object.entries(evidence);
  if (entries.length === 0) return '-';
  // JSON on one line with spaces after its commas and colons, so a page can wrap it between values.
  return entries.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : (JSON.stringify(v, null, 1) ?? String(v)).replace(/\n\s*/g, ' ')}`).join('\n');
}
