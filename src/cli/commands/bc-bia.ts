import type { Command } from 'commander';
import type { BiaResult, BiaSystem } from '../../continuity/business-impact.js';
import { ThresholdError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { continuityContext } from '../services.js';
import { createTable, formatDuration } from '../format.js';
import { withExample } from '../with-example.js';

/** `bc bia`: the business impact analysis. A report, so issues alone exit 0; `--check` makes a critical system's issue exit 6 for cron alerting. */
export function registerBcBia(bc: Command, ctx: CliContext): void {
  withExample(
    bc
      .command('bia')
      .description('business impact analysis: objectives per system, what dependencies, schedules and recoveries make of them')
      .option('--check', 'exit 6 when a critical system has an issue')
      .action(async (flags: { check?: boolean }) => {
        const { analyseBusinessImpact } = await import('../../continuity/business-impact.js');
        const result = analyseBusinessImpact(await continuityContext(ctx));
        ctx.render(result, renderBia);
        const failing = result.systems.filter((s) => s.criticality === 'critical' && s.issues.length > 0);
        if (flags.check && failing.length > 0) {
          const issues = failing.reduce((n, s) => n + s.issues.length, 0);
          throw new ThresholdError(`${failing.length} critical system${failing.length === 1 ? '' : 's'} with ${issues} issue${issues === 1 ? '' : 's'}: ${failing.map((s) => s.name).join(', ')}`);
        }
      }),
    'bkdr bc bia --json',
    'bkdr bc bia --check',
  );
}

const duration = (seconds: number | null): string => (seconds === null ? '-' : formatDuration(seconds * 1000));

function achieved(s: BiaSystem): string {
  if (s.achievedRto === null && s.achievedRpo === null) return s.lastExercisedAt === null ? 'never' : '-';
  const rto = s.achievedRto === null ? '' : `RTO ${duration(s.achievedRto)}${s.rto !== null && s.achievedRto > s.rto ? ' MISSED' : ''}`;
  const rpo = s.achievedRpo === null ? '' : `RPO ${duration(s.achievedRpo)}${s.rpo !== null && s.achievedRpo > s.rpo ? ' MISSED' : ''}`;
  return [rto, rpo].filter(Boolean).join('\n');
}

export function renderBia(result: BiaResult): string {
  if (result.systems.length === 0) return 'no systems in the config (add `systems` with their RTO, RPO and MTPD)';
  const table = createTable(['system', 'criticality', 'RTO', 'RPO', 'MTPD', 'effective RTO', 'achieved', 'issues']);
  for (const s of result.systems) {
    table.push([s.name, s.criticality ?? '-', duration(s.rto), duration(s.rpo), duration(s.mtpd), duration(s.effectiveRto), achieved(s), s.issues.map((i) => `- ${i}`).join('\n') || 'none']);
  }
  const withIssues = result.systems.filter((s) => s.issues.length > 0).length;
  return `${table.toString()}\n${withIssues === 0 ? 'no issues' : `${withIssues} of ${result.systems.length} systems with issues`}`;
}
