import type { Command } from 'commander';
import type { AssessmentRecord } from '../../catalog/assessments-table.js';
import { type AssessmentResult, conductAssessment, listFrameworks, requireFramework } from '../../continuity/compliance/assess.js';
import type { CliContext } from '../context.js';
import { createTable, shortTime } from '../format.js';
import { withExample } from '../with-example.js';
import { continuityContext } from '../services.js';
import { registerComplianceReport } from './compliance-report.js';
import { invokingUser } from '../options.js';

export function registerCompliance(program: Command, ctx: CliContext): void {
  const compliance = withExample(program.command('compliance').description('compliance assessments computed from recorded evidence'), 'bkdr compliance assess ISO-22301');
  withExample(
    compliance
      .command('frameworks')
      .description('the frameworks bkdr assesses, with their control counts')
      .action(() => {
        ctx.render(listFrameworks(), (list) => {
          const table = createTable(['framework', 'controls', 'areas', 'basis']);
          for (const f of list) table.push([`${f.id}\n${f.name}`, String(f.controls), f.areas.join(', '), f.basis]);
          return table.toString();
        });
      }),
    'bkdr compliance frameworks',
  );
  withExample(
    compliance
      .command('assess <framework>')
      .description('assess a framework from the records bkdr keeps; stored, with findings')
      .option('--assessor <name>', 'who performs the assessment (default: the user running bkdr)')
      .option('--scope <area...>', 'limit to these areas: backup, recovery, testing, protection, governance, incident')
      .action(async (framework: string, flags: { assessor?: string; scope?: string[] }) => {
        requireFramework(framework);
        const result = conductAssessment(await continuityContext(ctx), framework, { assessor: flags.assessor ?? invokingUser(), scope: flags.scope });
        ctx.render(result, renderAssessment);
      }),
    'bkdr compliance assess SOX --assessor "J. Doe" --json',
  );
  withExample(
    compliance
      .command('list')
      .description('past assessments, newest first')
      .option('--framework <f>', 'only this framework')
      .action(async (flags: { framework?: string }) => {
        const continuity = await continuityContext(ctx);
        const framework = flags.framework === undefined ? undefined : requireFramework(flags.framework).id;
        const list = continuity.catalog.assessments.list(framework ? { framework } : {});
        ctx.render(list, renderList);
      }),
    'bkdr compliance list --framework SOX',
  );
  registerComplianceReport(compliance, ctx);
}

function renderAssessment(a: AssessmentResult): string {
  const table = createTable(['control', 'status', 'detail']);
  for (const c of a.controls) table.push([`${c.id}\n${c.title}`, c.status === 'pass' ? 'pass' : c.status === 'fail' ? 'FAIL' : 'n/a', c.detail]);
  const lines = [`${a.framework} assessment ${a.id} by ${a.assessor} at ${shortTime(a.at)}: ${a.overallCompliance} % compliant`, table.toString()];
  for (const f of a.findings) lines.push(`finding ${f.id} (${f.severity}, due ${f.dueDate}): ${f.title} — ${f.remediation}`);
  for (const f of a.resolvedFindings) lines.push(`resolved: ${f.title} (opened ${shortTime(f.openedAt)})`);
  return lines.join('\n');
}

function renderList(list: AssessmentRecord[]): string {
  if (list.length === 0) return 'no assessment yet; `bkdr compliance assess <framework>` runs one';
  const table = createTable(['assessment', 'framework', 'at', 'assessor', 'score', 'failed']);
  for (const a of list)
    table.push([
      a.id.slice(0, 8),
      a.framework,
      shortTime(a.at),
      a.assessor,
      `${a.overallCompliance} %`,
      a.controls
        .filter((c) => c.status === 'fail')
        .map((c) => c.id)
        .join(', ') || '-',
    ]);
  return table.toString();
}
