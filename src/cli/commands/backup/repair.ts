import type { Command } from 'commander';
import type { RepairResult } from '../../../backup/backup-manager.js';
import type { CliContext } from '../../context.js';
import { withExample } from '../../with-example.js';
import { collect } from '../../options.js';
import { backupManager } from '../../services.js';

export function registerBackupRepair(backup: Command, ctx: CliContext): void {
  const repair = withExample(backup.command('repair').description('repair a damaged repository: rebuild the index, or drop lost files from backups'), 'bkdr backup repair index');
  for (const what of ['index', 'snapshots'] as const) {
    withExample(
      repair
        .command(what)
        .description(what === 'index' ? 'rebuild the index from the packs\u2019 own headers' : 'rewrite backups that reach lost data without the files that cannot be restored')
        .option('--dry-run', 'report what would change, change nothing')
        .option('--destination <name>', 'only this destination (repeatable)', collect)
        .option('--lock-wait <duration>', 'wait this long for other runs to finish (30s, 5m)')
        .action(async (flags: { dryRun?: boolean; destination?: string[]; lockWait?: string }) => {
          const manager = await backupManager(ctx, { lockWait: flags.lockWait });
          const results = await manager.repairRepositories(what, { dryRun: flags.dryRun, destinations: flags.destination });
          ctx.render(results, (r) => renderRepair(r, flags.dryRun ?? false));
        }),
      `bkdr backup repair ${what} --dry-run`,
    );
  }
}

function renderRepair(results: RepairResult[], dryRun: boolean): string {
  const lines: string[] = [];
  const would = dryRun ? 'would ' : '';
  for (const r of results) {
    if (r.index) {
      lines.push(`${r.destination}: ${would}index ${r.index.blobs} blobs in ${r.index.packs} packs, replacing ${r.index.oldIndexFiles} index files`);
      for (const u of r.index.unreadable) lines.push(`  pack ${u.pack.slice(0, 12)} left out: ${u.problem}`);
    }
    if (r.snapshots) {
      if (r.snapshots.length === 0) lines.push(`${r.destination}: every backup is intact`);
      for (const s of r.snapshots) {
        lines.push(`${r.destination}: backup ${s.snapshot.slice(0, 8)}${s.replacedBy ? ` replaced by ${s.replacedBy.slice(0, 8)}` : ''}: ${would}drop ${s.dropped.length} paths`);
        for (const p of s.dropped) lines.push(`  dropped ${p}`);
      }
    }
  }
  if (dryRun) lines.push('dry run: nothing was changed');
  return lines.join('\n') || 'no destination holds a repository yet';
}
