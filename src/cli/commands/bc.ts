import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';
import { registerBcBia } from './bc-bia.js';
import { registerBcDashboard } from './bc-dashboard.js';
import { registerBcIncident } from './bc-incident.js';
import { registerBcKpi } from './bc-kpi.js';
import { registerBcReport } from './bc-report.js';
import { registerBcRisk } from './bc-risk.js';

export function registerBc(program: Command, ctx: CliContext): void {
  const bc = withExample(program.command('bc').description('business continuity: BIA, risk register, KPIs, incidents, dashboard, reports'), 'bkdr bc dashboard');
  registerBcBia(bc, ctx);
  registerBcRisk(bc, ctx);
  registerBcKpi(bc, ctx);
  registerBcIncident(bc, ctx);
  registerBcDashboard(bc, ctx);
  registerBcReport(bc, ctx);
}
