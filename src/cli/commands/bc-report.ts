import type { Command } from 'commander';
import type { BcReportKind } from '../../continuity/continuity-reports.js';
import { UsageError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';
import { outputReport, reportFormat } from '../report-output.js';
import { backupManager, continuityContext } from '../services.js';

/** Kept here, not imported, so `--help` does not load the reports; a Record, so a report added to BcReportKind must be listed. */
const REPORTS: Record<BcReportKind, string> = {
  'backup-status': 'last backup per source, destinations, 3-2-1, backup runs of 30 days',
  'recovery-readiness': 'scenarios with their last execution against the targets, DR tests',
  compliance: 'the latest assessment per framework and the open findings',
  risk: 'the register, exposure, heat map counts, overdue reviews',
  'business-impact': 'the BIA per system and its issues',
};
const KINDS = Object.keys(REPORTS);

/** `bc report <kind>` (CLI.md): one of the five continuity reports, as Markdown, HTML or JSON. */
export function registerBcReport(bc: Command, ctx: CliContext): void {
  withExample(
    bc
      .command('report <kind>')
      .description(`a business continuity report: ${KINDS.join(' | ')}`)
      .addHelpText(
        'after',
        `\nReports:\n${Object.entries(REPORTS)
          .map(([k, d]) => `  ${k.padEnd(20)}${d}`)
          .join('\n')}\n`,
      )
      .option('--format <format>', 'md | html | json (default: md; json with --json)')
      .option('--out <file>', 'write to a file instead of stdout')
      .action(async (kind: string, flags: { format?: string; out?: string }) => {
        if (!KINDS.includes(kind)) throw new UsageError(`no report ${kind}; available: ${KINDS.join(', ')}`);
        const format = reportFormat(ctx, flags.format);
        // Only the backup status needs the repositories (and so the password); the others read the catalog and the config.
        const status = kind === 'backup-status' ? await (await backupManager(ctx, { readsBackups: true })).getBackupStatus() : undefined;
        const continuity = await continuityContext(ctx);
        const { generateBcReport } = await import('../../continuity/continuity-reports.js');
        await outputReport(ctx, generateBcReport(continuity, kind as BcReportKind, status), format, flags.out);
      }),
    'bkdr bc report risk --format html --out risk.html',
    'bkdr bc report backup-status --format json',
  );
}
