import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';
import { registerBcBia } from './bc-bia.js';
import { registerBcIncident } from './bc-incident.js';

export function registerBc(program: Command, ctx: CliContext): void {
  const bc = withExample(program.command('bc').description('business continuity: BIA, risk register, KPIs, dashboard'), 'bkdr bc dashboard');
  registerBcBia(bc, ctx);
  const risk = withExample(bc.command('risk').description('the risk register'), 'bkdr bc risk list');
  withExample(notAvailableYet(risk.command('list').description('list risks')), 'bkdr bc risk list --json');
  withExample(notAvailableYet(risk.command('add').description('add a risk')), 'bkdr bc risk add');
  withExample(notAvailableYet(risk.command('update <riskId>').description('update a risk')), 'bkdr bc risk update R-1');
  withExample(notAvailableYet(bc.command('kpi').description('KPIs against their thresholds')), 'bkdr bc kpi --json');
  withExample(
    notAvailableYet(bc.command('dashboard').description('the executive dashboard').option('--html <file>', 'write a self-contained HTML dashboard')),
    'bkdr bc dashboard --html dashboard.html',
  );
  registerBcIncident(bc, ctx);
}
