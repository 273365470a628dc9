import type { Command } from 'commander';
import type { AuditEntry, LostHistory } from '../../catalog/audit-log.js';
import { IntegrityError, UsageError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { createTable, shortTime } from '../format.js';
import { withExample } from '../with-example.js';

export function registerAudit(program: Command, ctx: CliContext): void {
  const audit = withExample(program.command('audit').description('the tamper-evident audit trail'), 'bkdr audit verify');

  withExample(
    audit
      .command('verify')
      .description('check the hash chain; exit 5 names the first broken row')
      .action(async () => {
        const catalog = await ctx.catalog();
        const result = catalog.audit.verify();
        if (!result.ok) throw new IntegrityError(`audit chain broken at row ${result.firstBrokenSeq}: ${reasonText(result.reason)} (${result.rows} rows in ${catalog.path})`);
        // Intact, but not whole: an auditor must hear that the trail before a date is gone.
        if (result.historyLost) throw new IntegrityError(`audit chain intact: ${result.rows} rows, but the audit history before ${result.historyLost.since} is lost: ${lostText(result.historyLost)}`);
        ctx.render(result, (r) => `audit chain intact: ${r.rows} rows`);
      }),
    'bkdr audit verify',
  );

  withExample(
    audit
      .command('list')
      .description('list audit rows, oldest first')
      .option('--limit <n>', 'newest n rows', '100')
      .action(async (flags: { limit: string }) => {
        const limit = Number(flags.limit);
        if (!Number.isInteger(limit) || limit <= 0) throw new UsageError(`--limit ${flags.limit}: must be a positive integer`);
        const catalog = await ctx.catalog();
        ctx.render(catalog.audit.list({ limit }), renderAudit);
      }),
    'bkdr audit list --json',
  );
}

function reasonText(reason: 'edited' | 'deleted' | 'inserted' | 'truncated'): string {
  return {
    edited: 'the row was edited after it was written',
    deleted: 'a row before it was deleted',
    inserted: 'the row was inserted outside the chain',
    truncated: 'rows at the end were deleted',
  }[reason];
}

function lostText(lost: LostHistory): string {
  const had = lost.lastSeq !== undefined ? `; the old chain had ${lost.lastSeq} rows, the newest of ${lost.lastTime}` : '';
  const kept = lost.keptAt ? `; the damaged catalog that holds it is kept at ${lost.keptAt}` : '';
  return `${lost.reason}${had}${kept}`;
}

function renderAudit(rows: AuditEntry[]): string {
  if (rows.length === 0) return 'no audit rows';
  const table = createTable(['seq', 'time', 'actor', 'action', 'target']);
  for (const r of rows) table.push([r.seq, shortTime(r.time), r.actor, r.action, r.target]);
  return table.toString();
}
