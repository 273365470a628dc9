import type { Command } from 'commander';
import type { BackupSummary, LsEntry } from '../../../backup/backup-manager.js';
import type { CliContext } from '../../context.js';
import { formatBytes, shortTime } from '../../format.js';
import { withExample } from '../../with-example.js';
import { backupManager } from '../../services.js';

export function registerBackupShow(backup: Command, ctx: CliContext): void {
  withExample(
    backup
      .command('show <backupId>')
      .description('details of one backup')
      .option('--ls [path]', 'list the files it holds (below path)')
      .option('--destination <name>', 'destination to read')
      .action(async (backupId: string, flags: { ls?: string | boolean; destination?: string }) => {
        const manager = await backupManager(ctx, { readsBackups: true });
        const shown = await manager.showBackup(backupId, flags);
        ctx.render(shown, renderShow);
      }),
    'bkdr backup show 3f2a9c1d --ls /srv/app',
  );
}

function renderShow(shown: { backup: BackupSummary; entries?: LsEntry[] }): string {
  const b = shown.backup;
  const lines = [
    `backup ${b.id}`,
    `  time         ${b.time}`,
    `  source       ${b.source} (${b.paths.join(', ')})`,
    `  destination  ${b.destination}`,
    `  type         ${b.strategy}${b.parent ? ` (parent ${b.parent.slice(0, 8)})` : ''}`,
    `  host         ${b.hostname}`,
    `  tags         ${b.tags.join(', ') || '-'}`,
    `  files        ${b.summary.files} (${b.summary.newFiles} new, ${b.summary.changedFiles} changed, ${b.summary.unchangedFiles} unchanged), ${b.summary.dirs} dirs`,
    `  size         ${formatBytes(b.summary.bytes)}; added ${formatBytes(b.summary.addedBytes)}, stored ${formatBytes(b.summary.storedBytes)}`,
  ];
  for (const e of shown.entries ?? [])
    lines.push(
      `${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${e.mode.padStart(6)} ${String(e.size).padStart(12)} ${shortTime(e.mtime)} ${e.path}${e.linkTarget ? ` -> ${e.linkTarget}` : ''}`,
    );
  return lines.join('\n');
}
