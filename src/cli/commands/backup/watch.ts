import type { Command } from 'commander';
import { parseDuration } from '../../../core/duration.js';
import type { CliContext } from '../../context.js';
import { withExample } from '../../with-example.js';
import { collect } from '../../options.js';
import { backupManager, interruptSignal } from '../../services.js';
import { continuousSources, reportWatchEvent } from '../../watch-report.js';

export function registerBackupWatch(backup: Command, ctx: CliContext): void {
  withExample(
    backup
      .command('watch')
      .description('continuous strategy: back up changes as they happen, within the RPO')
      .option('--source <name>', 'source to watch (repeatable; default: the continuous ones, else all)', collect)
      .option('--rpo <duration>', 'longest a change may wait for its backup (default: the config rpo, else 5m)')
      .action(async (flags: { source?: string[]; rpo?: string }) => {
        const loaded = await ctx.config();
        const manager = await backupManager(ctx);
        const continuous = continuousSources(loaded.config);
        const sources = flags.source ?? (continuous.length > 0 ? continuous : 'all');
        const interrupt = interruptSignal();
        let result: { backups: number };
        try {
          const rpoMs = flags.rpo !== undefined ? parseDuration(flags.rpo, '--rpo') : undefined;
          result = await manager.watchSources(sources, { rpoMs, signal: interrupt.signal }, (e) => reportWatchEvent(e, ctx.logger));
        } finally {
          interrupt.dispose();
        }
        ctx.render(result, (r) => `watch stopped after ${r.backups} backups`);
      }),
    'bkdr backup watch --source files --rpo 5m',
  );
}
