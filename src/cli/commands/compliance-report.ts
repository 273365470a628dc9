import type { Command } from 'commander';
import { requireFramework } from '../../continuity/compliance/assess.js';
import { UsageError } from '../../core/errors.js';
import { parseTimeExpression } from '../../core/time-expression.js';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';
import { outputReport, reportFormat } from '../report-output.js';
import { continuityContext } from '../services.js';

/** Without --from, a report covers the quarter before its end. */
const DEFAULT_PERIOD_DAYS = 90;

/**
 * The period of `--from`/`--to`. A bare date in --to means the end of that day (as
 * `restore --at` reads it); in --from it means the start, so `--from 2026-11-01 --to
 * 2026-11-30` covers the whole of November.
 */
export function reportPeriod(from: string | undefined, to: string | undefined, now: Date): { start: Date; end: Date } {
  const end = to === undefined ? now : parseTimeExpression(to, now);
  const start =
    from === undefined ? new Date(end.getTime() - DEFAULT_PERIOD_DAYS * 86_400_000) : /^\d{4}-\d{2}-\d{2}$/.test(from.trim()) ? new Date(`${from.trim()}T00:00:00`) : parseTimeExpression(from, now);
  if (start > end) throw new UsageError(`--from ${from ?? ''} is after --to ${to ?? 'now'}`);
  return { start, end };
}

/** `compliance report` and `compliance evidence` (CLI.md) under the given `compliance` command. */
export function registerComplianceReport(compliance: Command, ctx: CliContext): void {
  withExample(
    compliance
      .command('report <framework>')
      .description('a framework’s assessments over a period: score trend, controls with their evidence, open and resolved findings')
      .option('--from <date>', `start of the period (default: ${DEFAULT_PERIOD_DAYS} days before --to)`)
      .option('--to <date>', 'end of the period (default: now)')
      .option('--format <format>', 'md | html | json (default: md; json with --json)')
      .option('--out <file>', 'write to a file instead of stdout')
      .action(async (framework: string, flags: { from?: string; to?: string; format?: string; out?: string }) => {
        const id = requireFramework(framework).id;
        const format = reportFormat(ctx, flags.format);
        const continuity = await continuityContext(ctx);
        const { generateComplianceReport } = await import('../../continuity/compliance-report.js');
        const doc = generateComplianceReport(continuity, id, reportPeriod(flags.from, flags.to, continuity.now()));
        await outputReport(ctx, doc, format, flags.out);
      }),
    'bkdr compliance report GDPR --format html --out gdpr.html',
    'bkdr compliance report SOX --from 2026-10-01 --to 2026-12-31',
  );
  withExample(
    compliance
      .command('evidence <framework>')
      .description('a zip for an auditor: the report, the latest controls with their evidence, the audit trail and its verification, each file hashed in manifest.json')
      .requiredOption('--out <bundle.zip>', 'where to write the bundle')
      .action(async (framework: string, flags: { out: string }) => {
        const id = requireFramework(framework).id;
        const { writeEvidenceBundle } = await import('../../continuity/evidence-bundle.js');
        const result = await writeEvidenceBundle(await continuityContext(ctx), id, flags.out);
        ctx.render(result, (r) =>
          [`wrote ${r.file}: ${r.framework} evidence from assessment ${r.assessmentId}`, ...r.files.map((f) => `  ${f.sha256}  ${f.name}`), `manifest.json sha256 ${r.manifestSha256}`].join('\n'),
        );
      }),
    'bkdr compliance evidence SOX --out sox-evidence.zip',
  );
}
