import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerDr(program: Command, _ctx: CliContext): void {
  const dr = withExample(program.command('dr').description('disaster recovery: scenarios, recovery plans, executions, tests'), 'bkdr dr trigger db-failure --dry-run');
  withExample(notAvailableYet(dr.command('list').description('list scenarios and recovery plans')), 'bkdr dr list --json');
  withExample(
    notAvailableYet(
      dr
        .command('trigger <scenarioId>')
        .description('start the recovery plan of a scenario')
        .option('--dry-run', 'print exactly what would run, run nothing')
        .option('--reason <text>', 'why the scenario was triggered (recorded in the audit trail)'),
    ),
    'bkdr dr trigger db-failure --reason "primary down"',
  );
  withExample(notAvailableYet(dr.command('status [executionId]').description('progress of an execution').option('--watch', 'follow until it ends')), 'bkdr dr status --watch');
  withExample(
    notAvailableYet(
      dr
        .command('test <suite>')
        .description('run a DR test suite')
        .option('--scope <system...>', 'limit to these systems')
        .option('--parallel', 'run independent tests in parallel')
        .option('--dry-run', 'print what would run'),
    ),
    'bkdr dr test quarterly --scope database',
  );
  withExample(notAvailableYet(dr.command('watch').description('run detectors; trigger scenarios when they fire')), 'bkdr dr watch');
  withExample(notAvailableYet(dr.command('history').description('past executions with achieved RTO and RPO')), 'bkdr dr history --json');
}
