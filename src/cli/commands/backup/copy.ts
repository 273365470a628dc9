import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { createTable, formatBytes, shortTime } from '../../format.js';
import { withExample } from '../../with-example.js';
import { backupManager, interruptSignal } from '../../services.js';

export function registerBackupCopy(backup: Command, ctx: CliContext): void {
  withExample(
    backup
      .command('copy [backupIds...]')
      .description('copy backups between destinations (only the data the target lacks)')
      .requiredOption('--from <dest>', 'destination to read')
      .requiredOption('--to <dest>', 'destination to write')
      .option('--lock-wait <duration>', 'wait this long for a prune to finish (30s, 5m)')
      .action(async (backupIds: string[], flags: { from: string; to: string; lockWait?: string }) => {
        const manager = await backupManager(ctx, { lockWait: flags.lockWait });
        const interrupt = interruptSignal();
        try {
          const result = await manager.copyBackups({ from: flags.from, to: flags.to, backupIds, signal: interrupt.signal });
          ctx.render(result, (r) => {
            const table = createTable(['from', 'to', 'source', 'time', 'blobs', 'size']);
            for (const c of r.copied) table.push([c.from.slice(0, 8), c.to.slice(0, 8), c.source, shortTime(c.time), c.blobs, formatBytes(c.bytes)]);
            return `${r.copied.length > 0 ? `${table.toString()}\n` : ''}copied ${r.copied.length} backups, ${r.skipped.length} already there`;
          });
        } finally {
          interrupt.dispose();
        }
      }),
    'bkdr backup copy --from local --to offsite',
  );
}
