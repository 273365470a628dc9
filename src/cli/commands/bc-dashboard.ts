import { resolve } from 'node:path';
import type { Command } from 'commander';
import { OperationError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/write-file-atomic.js';
import { formatSummaryMetric, SUMMARY_METRIC_LABELS, type DashboardModel, type DashboardObjective, type DashboardSummaryMetrics } from '../../report/dashboard-model.js';
import type { CliContext } from '../context.js';
import { continuityContext } from '../services.js';
import { colorEnabled, createTable, shortTime } from '../format.js';
import { withExample } from '../with-example.js';

/** SGR colours written raw, as bc-kpi.ts does. */
const COLOURS: Record<string, number> = { ok: 32, ready: 32, met: 32, warning: 33, critical: 31, 'not ready': 31, missed: 31, 'no-data': 90 };
const paint = (text: string, colour: boolean): string => (colour && COLOURS[text] !== undefined ? `\u001b[${COLOURS[text]}m${text}\u001b[39m` : text);

/** Cut to `width` characters with an ellipsis: a long title must not push a table past 100 columns. */
function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** Breaks text at spaces into lines of at most `width` characters (a word longer than that is clipped). */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const w = clip(word, width);
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

const minutes = (seconds: number | null): string => (seconds === null ? '-' : `${(seconds / 60).toFixed(1)}`);
const objective = (o: DashboardObjective, colour: boolean): string => `${minutes(o.achieved)}/${minutes(o.target)}${o.met === null ? '' : ` ${paint(o.met ? 'met' : 'missed', colour)}`}`;

/** The dashboard for a terminal: each part a table of at most 100 columns, the charts reduced to their figures. */
export function renderDashboard(model: DashboardModel): string {
  const colour = colorEnabled();
  const out: string[] = [`executive dashboard, ${shortTime(model.generatedAt)}`];

  const summary = createTable(['metric', 'value']);
  for (const key of Object.keys(SUMMARY_METRIC_LABELS) as (keyof DashboardSummaryMetrics)[]) summary.push([SUMMARY_METRIC_LABELS[key], formatSummaryMetric(key, model.summaryMetrics[key])]);
  out.push(summary.toString());

  const kpis = createTable(['KPI', 'value', 'target', 'status']);
  for (const k of model.kpis)
    kpis.push([k.name, k.value === null ? '-' : `${k.value.toFixed(1)} ${k.unit}`, `${k.direction === 'higher-better' ? '≥' : '≤'} ${k.target} ${k.unit}`, paint(k.status, colour)]);
  out.push(kpis.toString());

  const days = model.backupRunsByDay;
  const succeeded = days.reduce((n, d) => n + d.succeeded, 0);
  const failed = days.reduce((n, d) => n + d.failed, 0);
  const failedDays = days.filter((d) => d.failed > 0).map((d) => d.day.slice(5));
  out.push(
    succeeded + failed === 0
      ? 'backup runs, 30 days: none finished'
      : `backup runs, 30 days: ${succeeded} succeeded, ${failed} failed${failedDays.length > 0 ? ` (failures on ${clip(failedDays.join(', '), 50)})` : ''}`,
  );

  if (model.frameworks.length === 0) out.push('compliance: no assessment yet');
  else {
    const frameworks = createTable(['framework', 'score', 'failed controls', 'assessed']);
    for (const f of model.frameworks) frameworks.push([clip(f.framework, 20), `${f.score.toFixed(1)} %`, String(f.failed), shortTime(f.at)]);
    out.push(frameworks.toString());
  }

  const x = model.risks.exposure;
  out.push(
    `risk exposure ${x.score}: ${Object.entries(x.byLevel)
      .map(([level, n]) => `${n} ${level}`)
      .join(', ')}${x.unscored > 0 ? `; ${x.unscored} not scored` : ''}`,
  );
  if (model.risks.top.length > 0) {
    const risks = createTable(['risk', 'title', 'L × I', 'level', 'owner']);
    for (const r of model.risks.top) risks.push([clip(r.id, 12), clip(r.title, 40), `${r.likelihood} × ${r.impact} = ${r.score}`, r.levelName, clip(r.owner ?? '-', 14)]);
    out.push(risks.toString());
  }

  if (model.recentExecutions.length === 0) out.push('recoveries and DR tests: none yet');
  else {
    const executions = createTable(['execution', 'scenario', 'status', 'started', 'RTO min', 'RPO min']);
    for (const e of model.recentExecutions)
      executions.push([e.id.slice(0, 8), clip(e.scenarioId, 16), e.status, shortTime(e.startedAt).slice(0, 16), objective(e.rto, colour), objective(e.rpo, colour)]);
    out.push(executions.toString());
  }

  if (model.readiness.systems.length === 0) out.push('readiness: no system is marked critical in the config');
  else {
    const readiness = createTable(['critical system', 'readiness', 'why not']);
    for (const s of model.readiness.systems) readiness.push([clip(s.name, 20), paint(s.ready ? 'ready' : 'not ready', colour), s.reasons.map((r) => wrap(`- ${r}`, 56)).join('\n') || '-']);
    out.push(readiness.toString());
  }
  return out.join('\n');
}

/** Written beside the target and renamed over it: a reader (a browser, a mail job) never sees half a page. */
async function writeAtomically(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(file, text);
  } catch (err) {
    // One line naming the file, not a bare ENOENT: the cause stays for --verbose.
    throw new OperationError(`cannot write the dashboard to ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

export function registerBcDashboard(bc: Command, ctx: CliContext): void {
  withExample(
    bc
      .command('dashboard')
      .description('the executive dashboard: availability, readiness, compliance, risk, KPIs, recoveries')
      .option('--html <file>', 'write a self-contained HTML dashboard (inline CSS and SVG, no network) and print its path')
      .action(async (flags: { html?: string }) => {
        const { generateExecutiveDashboard } = await import('../../continuity/executive-dashboard.js');
        const model = generateExecutiveDashboard(await continuityContext(ctx));
        if (flags.html === undefined) return ctx.render(model, renderDashboard);
        const { renderDashboardHtml } = await import('../../report/dashboard-html.js');
        const path = resolve(flags.html);
        await writeAtomically(path, renderDashboardHtml(model));
        ctx.render({ html: path }, (r) => r.html);
      }),
    'bkdr bc dashboard',
    'bkdr bc dashboard --html dashboard.html',
    'bkdr bc dashboard --json',
  );
}
