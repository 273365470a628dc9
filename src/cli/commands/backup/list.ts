import type { Command } from 'commander';
import type { BackupSummary } from '../../../backup/backup-manager.js';
import type { CliContext } from '../../context.js';
import { createTable, formatBytes, shortTime } from '../../format.js';
import { withExample } from '../../with-example.js';
import { backupManager } from '../../services.js';

export function registerBackupList(backup: Command, ctx: CliContext): void {
  withExample(
    backup
      .command('list')
      .description('list backups')
      .option('--source <name>', 'only this source')
      .option('--destination <name>', 'only this destination')
      .option('--since <time>', "only backups taken at or after this time (ISO-8601 or '2 days ago')")
      .action(async (flags: { source?: string; destination?: string; since?: string }) => {
        const manager = await backupManager(ctx, { readsBackups: true });
        const backups = await manager.listBackups(flags);
        ctx.render(backups, renderList);
      }),
    'bkdr backup list --since "2 days ago" --json',
  );
}

function renderList(backups: BackupSummary[]): string {
  if (backups.length === 0) return 'no backups';
  const table = createTable(['id', 'time', 'source', 'destination', 'type', 'files', 'size', 'tags']);
  for (const b of backups) table.push([b.id.slice(0, 8), shortTime(b.time), b.source, b.destination, b.strategy, b.summary.files, formatBytes(b.summary.bytes), b.tags.join(',')]);
  return table.toString();
}
