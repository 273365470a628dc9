import type { Command } from 'commander';
import { ThresholdError } from '../../core/errors.js';
import type { Kpi, KpiResult, KpiStatus } from '../../continuity/kpis.js';
import type { CliContext } from '../context.js';
import { continuityContext } from '../services.js';
import { colorEnabled, createTable } from '../format.js';
import { withExample } from '../with-example.js';

/** SGR colours of each status, written raw as main.ts does: no colour library loaded at every start for one column. */
const COLOURS: Record<KpiStatus, number> = { ok: 32, warning: 33, critical: 31, 'no-data': 90 };
const paint = (status: KpiStatus): string => `\u001b[${COLOURS[status]}m${status}\u001b[39m`;

/** `40.0 %`, `12.5 minutes`, `-` for no data. */
export function formatKpiValue(value: number | null, unit: Kpi['unit']): string {
  return value === null ? '-' : `${value.toFixed(1)} ${unit}`;
}

function formatTarget(k: Kpi): string {
  return `${k.direction === 'higher-better' ? '≥' : '≤'} ${k.target} ${k.unit}`;
}

/** The one line --check fails with: each critical KPI, its value and the threshold it is past. */
export function criticalLine(kpis: readonly Kpi[]): string | undefined {
  const critical = kpis.filter((k) => k.status === 'critical');
  if (critical.length === 0) return undefined;
  return `critical KPIs: ${critical.map((k) => `${k.name} ${formatKpiValue(k.value, k.unit)} (critical ${k.direction === 'higher-better' ? 'below' : 'above'} ${k.critical} ${k.unit})`).join(', ')}`;
}

export function renderKpis(result: KpiResult): string {
  const colour = colorEnabled();
  const table = createTable(['KPI', 'value', 'target', 'status', 'detail']);
  for (const k of result.kpis) table.push([k.name, formatKpiValue(k.value, k.unit), formatTarget(k), colour ? paint(k.status) : k.status, k.detail]);
  const lines = [table.toString()];
  const noData = result.kpis.filter((k) => k.status === 'no-data').map((k) => k.name);
  if (noData.length > 0) lines.push(`no data (not counted as met): ${noData.join(', ')}`);
  return lines.join('\n');
}

export function registerBcKpi(bc: Command, ctx: CliContext): void {
  withExample(
    bc
      .command('kpi')
      .description('KPIs against their thresholds (kpiThresholds), measured from the catalog')
      .option('--check', 'exit 6 when a KPI is critical (for cron alerting); no-data KPIs do not fail it')
      .action(async (flags: { check?: boolean }) => {
        const { measureKpis } = await import('../../continuity/kpis.js');
        const result = measureKpis(await continuityContext(ctx));
        ctx.render(result, renderKpis);
        if (!flags.check) return;
        const noData = result.kpis.filter((k) => k.status === 'no-data').length;
        // Not met, but not a breach either: a KPI nothing measured yet cannot page anyone at night.
        if (noData > 0) ctx.logger.warn(`${noData} KPIs have no data: not counted as met, and not failing --check`);
        const line = criticalLine(result.kpis);
        if (line) throw new ThresholdError(line);
      }),
    'bkdr bc kpi',
    'bkdr bc kpi --check --json',
  );
}
