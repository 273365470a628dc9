import type { Command } from 'commander';
import type { AuditEntry } from '../../catalog/audit-log.js';
import { IntegrityError, UsageError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { createTable, shortTime } from '../format.js';
import { withExample } from '../not-available.js';

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

function renderAudit(rows: AuditEntry[]): string {
  if (rows.length === 0) return 'no audit rows';
  const table = createTable(['seq', 'time', 'actor', 'action', 'target']);
  for (const r of rows) table.push([r.seq, shortTime(r.time), r.actor, r.action, r.target]);
  return table.toString();
}
