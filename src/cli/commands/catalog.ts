import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';
import { collect } from '../options.js';
import { backupManager } from '../services.js';

export function registerCatalog(program: Command, ctx: CliContext): void {
  const catalog = withExample(program.command('catalog').description('the local SQLite catalog'), 'bkdr catalog rebuild --from offsite');
  withExample(
    catalog
      .command('rebuild')
      .description('rebuild the catalog\u2019s list of backups from the repositories')
      .option('--from <dest>', 'destination to read (repeatable; default: every destination)', collect)
      .action(async (flags: { from?: string[] }) => {
        const { keptAside } = await ctx.catalogReplacingDamaged();
        // Said first, and on stderr: whatever happens next, the operator knows where the old catalog went.
        if (keptAside) ctx.logger.warn(`the catalog could not be used (${keptAside.reason}); kept it as ${keptAside.path} and started a new one`);
        const manager = await backupManager(ctx);
        const rebuilt = await manager.rebuildCatalog(flags.from);
        ctx.render(rebuilt, (r) =>
          r.length === 0
            ? 'no destination holds a repository yet'
            : r.map((d) => `${d.destination}: ${d.backups} backups in the catalog (${d.added} added, ${d.removed} no longer in the repository)`).join('\n'),
        );
        if (keptAside) ctx.logger.warn(`run logs and audit rows from before the rebuild are only in ${keptAside.path}`);
      }),
    'bkdr catalog rebuild --from local',
  );
}
