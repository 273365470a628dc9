import type { Command } from 'commander';
import { RISK_TREATMENTS, type RiskFields, type RiskTreatment } from '../../catalog/risks-table.js';
import { UsageError } from '../../core/errors.js';
import { riskExposure } from '../../continuity/risk-matrix.js';
import { addRisk, closeRisk, listRisks, updateRisk, type RegisterRisk } from '../../continuity/risk-register.js';
import type { CliContext } from '../context.js';
import { continuityContext } from '../services.js';
import { createTable } from '../format.js';
import { withExample } from '../with-example.js';
import { collect } from '../options.js';

interface RiskFlags {
  title?: string;
  description?: string;
  category?: string;
  likelihood?: string;
  impact?: string;
  owner?: string;
  treatment?: string;
  mitigation?: string[];
  residualLikelihood?: string;
  residualImpact?: string;
  reviewBy?: string;
  system?: string[];
}

/** Digits only: `Number('')` and `Number('0x3')` are numbers too, and would slip through. */
function score(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be an integer from 1 to 5, not '${value}'`);
  const n = Number(value);
  if (n < 1 || n > 5) throw new UsageError(`${flag} must be an integer from 1 to 5, not ${value}`);
  return n;
}

function treatment(value: string | undefined): RiskTreatment | undefined {
  if (value === undefined) return undefined;
  if (!(RISK_TREATMENTS as readonly string[]).includes(value)) throw new UsageError(`--treatment must be one of ${RISK_TREATMENTS.join(', ')}, not '${value}'`);
  return value as RiskTreatment;
}

/** Only the flags given: a field left out is not touched by an update. */
function fieldsOf(flags: RiskFlags): Partial<RiskFields> {
  const fields: { [K in keyof RiskFields]: RiskFields[K] | undefined } = {
    title: flags.title,
    description: flags.description,
    category: flags.category,
    likelihood: score('--likelihood', flags.likelihood),
    impact: score('--impact', flags.impact),
    owner: flags.owner,
    treatment: treatment(flags.treatment),
    mitigations: flags.mitigation,
    residualLikelihood: score('--residual-likelihood', flags.residualLikelihood),
    residualImpact: score('--residual-impact', flags.residualImpact),
    systems: flags.system,
    reviewBy: flags.reviewBy,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<RiskFields>;
}

function withFieldOptions(command: Command): Command {
  return command
    .option('--title <text>', 'what could happen')
    .option('--description <text>', 'more about it')
    .option('--category <name>', 'a category of your choosing')
    .option('--likelihood <1-5>', '1 unlikely … 5 almost certain')
    .option('--impact <1-5>', '1 minor … 5 catastrophic')
    .option('--owner <name>', 'who answers for it')
    .option('--treatment <how>', RISK_TREATMENTS.join(' | '))
    .option('--mitigation <text>', 'a mitigation in place (repeatable; replaces the list on update)', collect)
    .option('--residual-likelihood <1-5>', 'likelihood once treated')
    .option('--residual-impact <1-5>', 'impact once treated')
    .option('--review-by <date>', 'when it is reviewed next (2027-06-30)')
    .option('--system <name>', 'a system it threatens (repeatable; replaces the list on update)', collect);
}

const scoreCell = (l: number | null, i: number | null) => (l !== null && i !== null ? `${l}×${i}` : '-');

export function renderRisks(risks: RegisterRisk[]): string {
  if (risks.length === 0) return 'no risks in the register';
  const table = createTable(['risk', 'title', 'L×I', 'level', 'residual', 'owner', 'treatment', 'review by', 'status', 'source']);
  for (const r of risks) {
    const residual = r.residualLevelName ? `${r.residualLevelName} (${scoreCell(r.residualLikelihood ?? r.likelihood, r.residualImpact ?? r.impact)})` : '-';
    const review = r.reviewBy ? `${r.reviewBy}${r.reviewOverdue ? ' OVERDUE' : ''}` : '-';
    table.push([r.id, r.title, scoreCell(r.likelihood, r.impact), r.levelName ?? 'unscored', residual, r.owner ?? '-', r.treatment ?? '-', review, r.status, r.source]);
  }
  const exposure = riskExposure(risks);
  const counts = Object.entries(exposure.byLevel)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${n} ${name}`)
    .join(', ');
  const overdue = risks.filter((r) => r.reviewOverdue).length;
  const lines = [table.toString(), `risk exposure ${exposure.score}${counts ? ` (${counts})` : ''}${exposure.unscored ? `; ${exposure.unscored} open risk(s) not scored` : ''}`];
  if (overdue > 0) lines.push(`${overdue} review(s) overdue`);
  return lines.join('\n');
}

const describeRisk = (r: RegisterRisk) => `${r.id}: ${r.title} (${r.levelName ?? 'unscored'}${r.residualLevelName ? `, residual ${r.residualLevelName}` : ''})`;

/** `bc risk list | add | update <id> | close <id>` (CLI.md) under the given `bc` command. */
export function registerBcRisk(bc: Command, ctx: CliContext): void {
  const risk = withExample(bc.command('risk').description('the risk register'), 'bkdr bc risk list');

  withExample(
    risk
      .command('list')
      .description('risks from the config and those added, with their level and review status')
      .option('--open', 'only open risks')
      .action(async (flags: { open?: boolean }) => {
        const risks = listRisks(await continuityContext(ctx), flags.open ? { status: 'open' } : {});
        ctx.render(risks, renderRisks);
      }),
    'bkdr bc risk list --json',
  );

  withExample(
    withFieldOptions(risk.command('add').description('add a risk to the register (kept in the catalog)'))
      .option('--id <id>', 'its id (default: the next R-<n>)')
      .action(async (flags: RiskFlags & { id?: string }) => {
        if (flags.title === undefined) throw new UsageError('a risk needs --title');
        const added = addRisk(await continuityContext(ctx), { ...fieldsOf(flags), title: flags.title, ...(flags.id !== undefined ? { id: flags.id } : {}) });
        ctx.render(added, (r) => `added ${describeRisk(r)}`);
      }),
    'bkdr bc risk add --title "Region outage" --likelihood 2 --impact 4 --owner ops --treatment transfer',
  );

  withExample(
    withFieldOptions(risk.command('update <riskId>').description('change a risk added to the register (config risks change in the config)')).action(async (riskId: string, flags: RiskFlags) => {
      const patch = fieldsOf(flags);
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give at least one field, such as --likelihood');
      const updated = updateRisk(await continuityContext(ctx), riskId, patch);
      ctx.render(updated, (r) => `updated ${describeRisk(r)}`);
    }),
    'bkdr bc risk update R-2 --likelihood 1 --mitigation "second region"',
  );

  withExample(
    risk
      .command('close <riskId>')
      .description('close a risk added to the register')
      .option('--reason <text>', 'why it no longer applies (kept in the audit trail)')
      .action(async (riskId: string, flags: { reason?: string }) => {
        const closed = closeRisk(await continuityContext(ctx), riskId, flags.reason);
        ctx.render(closed, (r) => `closed ${r.id}: ${r.title}${r.closeReason ? ` (${r.closeReason})` : ''}`);
      }),
    'bkdr bc risk close R-2 --reason "moved to a multi-region service"',
  );
}
