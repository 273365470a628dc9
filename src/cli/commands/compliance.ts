import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerCompliance(program: Command, _ctx: CliContext): void {
  const compliance = withExample(program.command('compliance').description('compliance assessments computed from recorded evidence'), 'bkdr compliance assess ISO-22301');
  withExample(notAvailableYet(compliance.command('frameworks').description('list the supported frameworks')), 'bkdr compliance frameworks');
  withExample(
    notAvailableYet(
      compliance
        .command('assess <framework>')
        .description('assess SOX, ISO-22301, NIST-CSF or GDPR')
        .option('--assessor <name>', 'who performs the assessment')
        .option('--scope <area...>', 'limit to these areas'),
    ),
    'bkdr compliance assess SOX --assessor "J. Doe" --json',
  );
  withExample(
    notAvailableYet(
      compliance
        .command('report <framework>')
        .description('render an assessment report')
        .option('--from <date>', 'start of the period')
        .option('--to <date>', 'end of the period')
        .option('--format <format>', 'md | html | json', 'md')
        .option('--out <file>', 'write to a file instead of stdout'),
    ),
    'bkdr compliance report GDPR --format html --out gdpr.html',
  );
}
