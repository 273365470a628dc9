import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';
import { registerBcBia } from './bc-bia.js';
import { registerBcIncident } from './bc-incident.js';
import { registerBcKpi } from './bc-kpi.js';
import { registerBcReport } from './bc-report.js';
import { registerBcRisk } from './bc-risk.js';

export function registerBc(program: Command, ctx: CliContext): void {
  const bc = withExample(program.command('bc').description('business continuity: BIA, risk register, KPIs, dashboard'), 'bkdr bc dashboard');
  registerBcBia(bc, ctx);
  registerBcRisk(bc, ctx);
  registerBcKpi(bc, ctx);
  registerBcReport(bc, ctx);
  withExample(
    notAvailableYet(bc.command('dashboard').description('the executive dashboard').option('--html <file>', 'write a self-contained HTML dashboard')),
    'bkdr bc dashboard --html dashboard.html',
  );
  registerBcIncident(bc, ctx);
}
