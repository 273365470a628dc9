/**
 * The one model every report is built as (DESIGN.md "Business continuity": reports are
 * models rendered as JSON, Markdown and one self-contained HTML page). A report module
 * builds a ReportDocument; these renderers are the only place that knows a format, so a
 * new report needs no rendering code and the three renderings never disagree.
 * JSON is the document itself.
 */

/** A cell: text or a number as it should read; null reads as "-". */
export type ReportCell = string | number | null;

export interface ReportTable {
  columns: string[];
  rows: ReportCell[][];
}

/** A headline number ("score", "92.5 %"). */
export interface ReportFigure {
  label: string;
  value: string | number;
}

export interface ReportSection {
  heading: string;
  paragraphs: string[];
  tables: ReportTable[];
  figures: ReportFigure[];
}

export interface ReportDocument {
  title: string;
  /** ISO-8601. */
  generatedAt: string;
  /** The records' period (ISO-8601 bounds), when the report covers one. */
  period: { start: string; end: string } | null;
  sections: ReportSection[];
}

export type ReportFormat = 'md' | 'html' | 'json';
export const REPORT_FORMATS: readonly ReportFormat[] = ['md', 'html', 'json'];

/** A section with only what is given; the rest empty, so builders stay short. */
export function section(heading: string, parts: Partial<Omit<ReportSection, 'heading'>> = {}): ReportSection {
  return { heading, paragraphs: parts.paragraphs ?? [], tables: parts.tables ?? [], figures: parts.figures ?? [] };
}

export function renderReport(doc: ReportDocument, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  return format === 'html' ? toHtml(doc) : toMarkdown(doc);
}

const cellText = (c: ReportCell): string => (c === null ? '-' : String(c));
const periodText = (p: { start: string; end: string }): string => `${p.start} to ${p.end}`;

/** Backslash-escapes what Markdown would read as markup (CommonMark lets any ASCII punctuation be escaped), so record text never becomes a link, emphasis or raw HTML. */
function escapeMd(text: string): string {
  return text.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`);
}

/** A table cell must stay on one line: newlines become <br> (the only HTML emitted, and it is ours). */
const mdCell = (c: ReportCell): string =>
  escapeMd(cellText(c))
    .split(/\r?\n/)
    .map((line) => line.trim())
    .join('<br>');

export function toMarkdown(doc: ReportDocument): string {
  const out: string[] = [`# ${escapeMd(doc.title)}`, ''];
  out.push(`Generated ${escapeMd(doc.generatedAt)}${doc.period ? `; period ${escapeMd(periodText(doc.period))}` : ''}.`, '');
  for (const s of doc.sections) {
    out.push(`## ${escapeMd(s.heading)}`, '');
    if (s.figures.length) {
      for (const f of s.figures) out.push(`- **${escapeMd(f.label)}**: ${escapeMd(String(f.value))}`);
      out.push('');
    }
    for (const p of s.paragraphs) out.push(escapeMd(p), '');
    for (const t of s.tables) {
      // A table without rows would render as a bare header: say so instead.
      if (t.rows.length === 0) {
        out.push('_none_', '');
        continue;
      }
      out.push(`| ${t.columns.map(mdCell).join(' | ')} |`, `|${t.columns.map(() => ' --- ').join('|')}|`);
      for (const r of t.rows) out.push(`| ${t.columns.map((_, i) => mdCell(r[i] ?? null)).join(' | ')} |`);
      out.push('');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}
const htmlCell = (c: ReportCell): string => escapeHtml(cellText(c)).replace(/\r?\n/g, '<br>');

/** Inline, so the page is one file that opens anywhere (an auditor's laptop, an air-gapped site) with nothing fetched. */
const CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #fff; --head: #f3f5f9; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ee; --muted: #9aa3b5; --line: #394152; --bg: #161a22; --head: #1f2531; } }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; padding: 2rem 1.5rem; max-width: 1200px; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .75rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0 0 1.5rem; }
.figures { display: flex; flex-wrap: wrap; gap: .75rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.figures li { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
.figures .label { display: block; color: var(--muted); font-size: .8rem; }
.figures .value { font-size: 1.2rem; font-weight: 600; }
.scroll { overflow-x: auto; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .35rem .55rem; text-align: left; vertical-align: top; }
th { background: var(--head); }
td { overflow-wrap: break-word; }
.none { color: var(--muted); font-style: italic; }
@media print { body { padding: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
`;

/** One self-contained page: inline CSS, no script, nothing fetched, every string from the document escaped. */
export function toHtml(doc: ReportDocument): string {
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No network and no script, even if a later edit forgets: the page itself forbids them.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(doc.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(doc.title)}</h1>`,
    `<p class="meta">Generated ${escapeHtml(doc.generatedAt)}${doc.period ? `; period ${escapeHtml(periodText(doc.period))}` : ''}</p>`,
  ];
  for (const s of doc.sections) {
    out.push('<section>', `<h2>${escapeHtml(s.heading)}</h2>`);
    if (s.figures.length) {
      out.push('<ul class="figures">');
      for (const f of s.figures) out.push(`<li><span class="label">${escapeHtml(f.label)}</span><span class="value">${escapeHtml(String(f.value))}</span></li>`);
      out.push('</ul>');
    }
    for (const p of s.paragraphs) out.push(`<p>${escapeHtml(p)}</p>`);
    for (const t of s.tables) {
      if (t.rows.length === 0) {
        out.push('<p class="none">none</p>');
        continue;
      }
      out.push('<div class="scroll"><table>', `<thead><tr>${t.columns.map((c) => `<th>${htmlCell(c)}</th>`).join('')}</tr></thead>`, '<tbody>');
      for (const r of t.rows) out.push(`<tr>${t.columns.map((_, i) => `<td>${htmlCell(r[i] ?? null)}</td>`).join('')}</tr>`);
      out.push('</tbody>', '</table></div>');
    }
    out.push('</section>');
  }
  out.push('</body>', '</html>');
  return `${out.join('\n')}\n`;
}
