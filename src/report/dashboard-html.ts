import { formatSummaryMetric, SUMMARY_METRIC_LABELS, type DashboardKpiStatus, type DashboardModel, type DashboardObjective, type DashboardSummaryMetrics } from './dashboard-model.js';

/**
 * The executive dashboard as ONE self-contained HTML page (DESIGN.md "Business
 * continuity"): inline CSS and inline SVG only, no script, no font, image or stylesheet
 * fetched, so it opens offline, survives being mailed and prints to a readable PDF.
 * Every string from the records is escaped: titles and ids are typed by people.
 * Each headline figure carries `data-metric` (its summaryMetrics key) and `data-value`
 * (the raw number, empty for no data), so a test can read the page against --json.
 */

const STATUS_COLOURS: Record<DashboardKpiStatus, string> = { ok: '#2e7d32', warning: '#b26a00', critical: '#c62828', 'no-data': '#757575' };
/** Heat-map fill per matrix level, very low … very high. */
const LEVEL_COLOURS = ['#c8e6c9', '#f0f4c3', '#ffe082', '#ffab91', '#ef9a9a'];
const LIKELIHOOD = ['unlikely', 'rather unlikely', 'likely', 'very likely', 'almost certain'];
const IMPACT = ['minor', 'significant', 'serious', 'critical', 'catastrophic'];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
const e = escapeHtml;

const CSS = `
*{box-sizing:border-box}
body{margin:0;padding:24px;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1a1a1a;background:#f4f6f8}
h1{margin:0 0 4px;font-size:24px}h2{margin:0 0 12px;font-size:17px}
.meta{color:#555;margin-bottom:20px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;margin-bottom:20px}
.tile{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px}
.tile .label{color:#555;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .figure{font-size:26px;font-weight:600}
.tile .figure.none{color:#757575;font-size:20px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px;margin-bottom:20px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:20px;margin-bottom:20px}
.grid2 section{margin-bottom:0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e1e4e8;vertical-align:top}
th{color:#555;font-weight:600}
.empty{color:#757575;font-style:italic}
.ok{color:#2e7d32}.missed{color:#c62828}
svg{max-width:100%;height:auto;font-family:inherit}
@media print{
  body{background:#fff;padding:0;font-size:11pt}
  section,.tile{border-color:#999;break-inside:avoid;page-break-inside:avoid}
  .grid2{display:block}.grid2 section{margin-bottom:16px}
  .tiles{grid-template-columns:repeat(4,1fr)}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
@page{margin:14mm}
`;

export function renderDashboardHtml(model: DashboardModel): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // No network: a policy the browser enforces, should anything in the data ever look like a URL to it.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>bkdr executive dashboard — ${e(model.generatedAt)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<h1>Executive dashboard</h1>',
    `<div class="meta">generated <time datetime="${e(model.generatedAt)}">${e(model.generatedAt)}</time> by bkdr, measured from its catalog</div>`,
    summaryTiles(model.summaryMetrics),
    section('KPIs', kpiTiles(model)),
    '<div class="grid2">',
    section('Backup runs, last 30 days', backupBars(model)),
    section('Compliance per framework', complianceBars(model)),
    '</div>',
    '<div class="grid2">',
    section('Risk heat map (open risks)', heatMap(model)),
    section('Top risks', topRisks(model)),
    '</div>',
    section('Recent recoveries and DR tests: achieved against target', executionsChart(model) + executionsTable(model)),
    section('Readiness of critical systems', readinessTable(model)),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

const section = (title: string, body: string): string => `<section><h2>${e(title)}</h2>\n${body}\n</section>`;
const empty = (text: string): string => `<p class="empty">${e(text)}</p>`;

function summaryTiles(m: DashboardSummaryMetrics): string {
  const tiles = (Object.keys(SUMMARY_METRIC_LABELS) as (keyof DashboardSummaryMetrics)[]).map((key) => {
    const value = m[key];
    return `<div class="tile"><div class="label">${e(SUMMARY_METRIC_LABELS[key])}</div><div class="figure${value === null ? ' none' : ''}" data-metric="${key}" data-value="${value === null ? '' : value}">${e(formatSummaryMetric(key, value))}</div></div>`;
  });
  return `<div class="tiles">${tiles.join('')}</div>`;
}

const num = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));

function kpiTiles(model: DashboardModel): string {
  if (model.kpis.length === 0) return empty('no KPIs');
  const cols = 3;
  const w = 300;
  const h = 64;
  const gap = 8;
  const rows = Math.ceil(model.kpis.length / cols);
  const cells = model.kpis.map((k, i) => {
    const x = (i % cols) * (w + gap);
    const y = Math.floor(i / cols) * (h + gap);
    const value = k.value === null ? 'no data' : `${num(k.value)} ${k.unit}`;
    return [
      `<g transform="translate(${x},${y})"><title>${e(k.detail)}</title>`,
      `<rect width="${w}" height="${h}" rx="6" fill="#fff" stroke="${STATUS_COLOURS[k.status]}" stroke-width="2"/>`,
      `<rect width="8" height="${h}" rx="3" fill="${STATUS_COLOURS[k.status]}"/>`,
      `<text x="18" y="22" font-size="13" fill="#333">${e(k.name)}</text>`,
      `<text x="18" y="48" font-size="18" font-weight="600" fill="#1a1a1a">${e(value)}</text>`,
      `<text x="${w - 10}" y="48" font-size="12" text-anchor="end" fill="${STATUS_COLOURS[k.status]}">${e(k.status)}</text>`,
      '</g>',
    ].join('');
  });
  const width = cols * w + (cols - 1) * gap;
  const height = rows * h + (rows - 1) * gap;
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="KPI status">${cells.join('')}</svg>`;
}

function backupBars(model: DashboardModel): string {
  const days = model.backupRunsByDay;
  const total = days.reduce((s, d) => s + d.succeeded + d.failed, 0);
  if (total === 0) return empty('no finished backup run in 30 days');
  const max = Math.max(...days.map((d) => d.succeeded + d.failed));
  const barW = 14;
  const gap = 4;
  const chartH = 140;
  const left = 30;
  // Room after the last bar for its centred date label.
  const width = left + days.length * (barW + gap) + 16;
  const bars = days.map((d, i) => {
    const x = left + i * (barW + gap);
    const okH = (d.succeeded / max) * chartH;
    const failH = (d.failed / max) * chartH;
    const label = i % 5 === 4 || i === days.length - 1 ? `<text x="${x + barW / 2}" y="${chartH + 16}" font-size="10" text-anchor="middle" fill="#555">${e(d.day.slice(5))}</text>` : '';
    return `<g><title>${e(`${d.day}: ${d.succeeded} succeeded, ${d.failed} failed`)}</title><rect x="${x}" y="${chartH - okH}" width="${barW}" height="${okH}" fill="#2e7d32"/><rect x="${x}" y="${chartH - okH - failH}" width="${barW}" height="${failH}" fill="#c62828"/></g>${label}`;
  });
  const axis = `<line x1="${left - 2}" y1="${chartH}" x2="${width}" y2="${chartH}" stroke="#999"/><text x="${left - 6}" y="10" font-size="10" text-anchor="end" fill="#555">${max}</text><text x="${left - 6}" y="${chartH}" font-size="10" text-anchor="end" fill="#555">0</text>`;
  const legend = `<text x="${left}" y="${chartH + 34}" font-size="11" fill="#2e7d32">■ succeeded</text><text x="${left + 90}" y="${chartH + 34}" font-size="11" fill="#c62828">■ failed</text>`;
  return `<svg viewBox="0 0 ${width} ${chartH + 40}" width="${width}" height="${chartH + 40}" role="img" aria-label="backup runs per day">${axis}${bars.join('')}${legend}</svg>`;
}

function complianceBars(model: DashboardModel): string {
  if (model.frameworks.length === 0) return empty('no assessment yet');
  const left = 110;
  const barMax = 260;
  const rowH = 28;
  const width = left + barMax + 120;
  const rows = model.frameworks.map((f, i) => {
    const y = i * rowH;
    const colour = f.score >= 95 ? STATUS_COLOURS.ok : f.score >= 80 ? STATUS_COLOURS.warning : STATUS_COLOURS.critical;
    return [
      `<g><title>${e(`${f.framework}: ${num(f.score)} % on ${f.at}, ${f.failed} controls failed`)}</title>`,
      `<text x="${left - 8}" y="${y + 17}" font-size="12" text-anchor="end" fill="#333">${e(f.framework)}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${barMax}" height="18" fill="#eceff1"/>`,
      `<rect x="${left}" y="${y + 4}" width="${(Math.max(0, Math.min(100, f.score)) / 100) * barMax}" height="18" fill="${colour}"/>`,
      `<text x="${left + barMax + 8}" y="${y + 17}" font-size="12" fill="#333">${e(`${num(f.score)} %, ${f.failed} failed`)}</text>`,
      '</g>',
    ].join('');
  });
  const height = model.frameworks.length * rowH + 6;
  // The 95 % mark: the compliance_score KPI's default target.
  const target = `<line x1="${left + barMax * 0.95}" y1="0" x2="${left + barMax * 0.95}" y2="${height}" stroke="#333" stroke-dasharray="3,3"/>`;
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="compliance per framework">${rows.join('')}${target}</svg>`;
}

function heatMap(model: DashboardModel): string {
  const cell = 52;
  const left = 110;
  const top = 8;
  const cells: string[] = [];
  // Likelihood grows upwards, as risk matrices are drawn.
  for (let l = 5; l >= 1; l--) {
    const y = top + (5 - l) * cell;
    cells.push(`<text x="${left - 8}" y="${y + cell / 2 + 4}" font-size="11" text-anchor="end" fill="#333">${l} ${e(LIKELIHOOD[l - 1]!)}</text>`);
    for (let i = 1; i <= 5; i++) {
      const x = left + (i - 1) * cell;
      const count = model.risks.heatMap[l - 1]?.[i - 1] ?? 0;
      const level = model.risks.levels[l - 1]?.[i - 1] ?? 0;
      cells.push(
        `<g><title>${e(`likelihood ${l} × impact ${i}: ${count} open risks`)}</title><rect x="${x}" y="${y}" width="${cell - 2}" height="${cell - 2}" fill="${LEVEL_COLOURS[level] ?? '#eee'}"/>` +
          (count > 0 ? `<text x="${x + cell / 2 - 1}" y="${y + cell / 2 + 6}" font-size="18" font-weight="600" text-anchor="middle" fill="#1a1a1a">${count}</text>` : '') +
          '</g>',
      );
    }
  }
  for (let i = 1; i <= 5; i++) {
    const x = left + (i - 1) * cell + cell / 2 - 1;
    cells.push(`<text x="${x}" y="${top + 5 * cell + 14}" font-size="11" text-anchor="middle" fill="#333">${i}</text>`);
    cells.push(`<text x="${x}" y="${top + 5 * cell + 28}" font-size="9" text-anchor="middle" fill="#555">${e(IMPACT[i - 1]!)}</text>`);
  }
  const x = model.risks.exposure;
  const width = left + 5 * cell + 10;
  const height = top + 5 * cell + 36;
  const caption = `<p>exposure ${x.score} (Σ likelihood × impact of open risks)${x.unscored > 0 ? `; ${x.unscored} open risks not scored` : ''}</p>`;
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="risk heat map">${cells.join('')}</svg>${caption}`;
}

function topRisks(model: DashboardModel): string {
  if (model.risks.top.length === 0) return empty('no open scored risk');
  const rows = model.risks.top.map(
    (r) =>
      `<tr><td>${e(r.id)}</td><td>${e(r.title)}</td><td>${r.likelihood} × ${r.impact} = ${r.score}</td><td>${e(r.levelName)}</td><td>${e(r.owner ?? '-')}</td><td>${e(r.treatment ?? '-')}</td></tr>`,
  );
  return `<table><thead><tr><th>id</th><th>risk</th><th>L × I</th><th>level</th><th>owner</th><th>treatment</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const minutes = (seconds: number | null): string => (seconds === null ? '-' : `${num(seconds / 60)} min`);
const verdict = (o: DashboardObjective): string => (o.met === null ? '' : o.met ? ' <span class="ok">met</span>' : ' <span class="missed">missed</span>');

function executionsChart(model: DashboardModel): string {
  const measured = model.recentExecutions.filter((x) => x.rto.achieved !== null || x.rpo.achieved !== null);
  // With no execution at all the table below says so once.
  if (model.recentExecutions.length === 0) return '';
  if (measured.length === 0) return empty('no recovery or DR test has measured an RTO or RPO yet');
  const left = 170;
  const barMax = 300;
  const rowH = 44;
  const max = Math.max(1, ...measured.flatMap((x) => [x.rto.target, x.rto.achieved, x.rpo.target, x.rpo.achieved].filter((v): v is number => v !== null)));
  const bar = (o: DashboardObjective, label: string, y: number): string => {
    const w = ((o.achieved ?? 0) / max) * barMax;
    const colour = o.met === false ? STATUS_COLOURS.critical : o.met ? STATUS_COLOURS.ok : STATUS_COLOURS['no-data'];
    const target = o.target === null ? '' : `<line x1="${left + (o.target / max) * barMax}" y1="${y - 2}" x2="${left + (o.target / max) * barMax}" y2="${y + 16}" stroke="#1a1a1a" stroke-width="2"/>`;
    return `<text x="${left - 8}" y="${y + 11}" font-size="10" text-anchor="end" fill="#555">${label}</text><rect x="${left}" y="${y}" width="${w}" height="14" fill="${colour}"/>${target}<text x="${left + barMax + 10}" y="${y + 11}" font-size="11" fill="#333">${e(`${minutes(o.achieved)} / target ${minutes(o.target)}`)}</text>`;
  };
  const rows = measured.map((x, i) => {
    const y = i * rowH + 4;
    return `<g><title>${e(`${x.scenarioId} ${x.id} ${x.status} ${x.startedAt}`)}</title><text x="0" y="${y + 18}" font-size="12" fill="#333">${e(`${x.scenarioId} ${x.startedAt.slice(0, 10)}`)}</text>${bar(x.rto, 'RTO', y)}${bar(x.rpo, 'RPO', y + 18)}</g>`;
  });
  const width = left + barMax + 200;
  const height = measured.length * rowH + 20;
  const legend = `<text x="${left}" y="${height - 4}" font-size="11" fill="#555">bar: achieved; black mark: target</text>`;
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="achieved against target RTO and RPO">${rows.join('')}${legend}</svg>`;
}

function executionsTable(model: DashboardModel): string {
  if (model.recentExecutions.length === 0) return empty('no recovery or DR test has run');
  const rows = model.recentExecutions.map(
    (x) =>
      `<tr><td>${e(x.id.slice(0, 8))}</td><td>${e(x.scenarioId)}</td><td>${e(x.status)}</td><td>${e(x.startedAt)}</td><td>${e(minutes(x.rto.achieved))} / ${e(minutes(x.rto.target))}${verdict(x.rto)}</td><td>${e(minutes(x.rpo.achieved))} / ${e(minutes(x.rpo.target))}${verdict(x.rpo)}</td></tr>`,
  );
  return `<table><thead><tr><th>execution</th><th>scenario</th><th>status</th><th>started</th><th>RTO achieved / target</th><th>RPO achieved / target</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function readinessTable(model: DashboardModel): string {
  if (model.readiness.systems.length === 0) return empty('no system is marked critical in the config: readiness has nothing to measure');
  const rows = model.readiness.systems.map(
    (s) => `<tr><td>${e(s.name)}</td><td class="${s.ready ? 'ok' : 'missed'}">${s.ready ? 'ready' : 'not ready'}</td><td>${s.reasons.map(e).join('<br>') || '-'}</td></tr>`,
  );
  return `<table><thead><tr><th>system</th><th>readiness</th><th>why not</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}
