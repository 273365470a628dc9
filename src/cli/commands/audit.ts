import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerAudit(program: Command, _ctx: CliContext): void {
  const audit = withExample(program.command('audit').description('the tamper-evident audit trail'), 'bkdr audit verify');
  withExample(notAvailableYet(audit.command('verify').description('check the hash chain; exit 5 names the first broken row')), 'bkdr audit verify');
  withExample(notAvailableYet(audit.command('list').description('list audit rows')), 'bkdr audit list --json');
}
