import { UsageError } from '../core/errors.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import { REPORT_FORMATS, type ReportDocument, type ReportFormat, renderReport } from '../report/report-document.js';
import type { CliContext } from './context.js';

/** `--format`, else JSON under the global `--json` (CLI.md: one JSON document on stdout), else Markdown. */
export function reportFormat(ctx: CliContext, format: string | undefined): ReportFormat {
  if (format === undefined) return ctx.options.json ? 'json' : 'md';
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}, not '${format}'`);
  return format as ReportFormat;
}

/**
 * A report to `--out` or stdout. The file is written beside its final name and renamed,
 * so a reader (a web server, a mail job) never sees half a report.
 */
export async function outputReport(ctx: CliContext, doc: ReportDocument, format: ReportFormat, out: string | undefined): Promise<void> {
  const text = renderReport(doc, format);
  if (out === undefined) {
    process.stdout.write(text);
    return;
  }
  try {
    await writeFileAtomic(out, text, { mode: 0o644 });
  } catch (err) {
    throw new UsageError(`cannot write the report to ${out}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  ctx.logger.info(`wrote ${out}`);
}
