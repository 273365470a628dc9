import type { Command } from 'commander';
import type { RestoreOutcome } from '../../backup/backup-manager.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { CliContext } from '../context.js';
import { formatBytes } from '../format.js';
import { withExample } from '../with-example.js';
import { collect } from '../options.js';
import { createProgressReporter } from '../progress.js';
import { backupManager, interruptSignal } from '../services.js';

interface RestoreFlags {
  at?: string;
  source?: string;
  from?: string;
  target?: string;
  include?: string[];
  verify?: boolean;
  archive?: string;
  force?: boolean;
  lockWait?: string;
  targetDb?: string;
  pipe?: boolean;
}

export function registerRestore(program: Command, ctx: CliContext): void {
  withExample(
    program
      .command('restore [backupId]')
      .description('restore a backup (or the newest one at a time) into a directory or an archive')
      .option('--at <time>', "newest backup taken at or before <time> (ISO-8601 or '2h ago', 'yesterday 18:00')")
      .option('--source <name>', 'source whose backups to consider')
      .option('--from <dest>', 'destination to read from')
      .option('--target <dir>', 'directory to restore into')
      .option('--include <glob>', 'restore only matching paths (repeatable)', collect)
      .option('--verify', 're-hash everything written')
      .option('--archive <file>', 'write a .tar.gz or .zip instead of files')
      .option('--force', 'restore into a non-empty target, overwriting files')
      .option('--target-db <name>', 'database sources: restore into this database (created when missing)')
      .option('--pipe', 'command sources: pipe the backup into the configured restoreCommand')
      .option('--lock-wait <duration>', 'wait this long for a prune to finish (30s, 5m)')
      .action(async (backupId: string | undefined, flags: RestoreFlags) => {
        const manager = await backupManager(ctx, { lockWait: flags.lockWait, readsBackups: true });
        const progress = await createProgressReporter(ctx);
        const interrupt = interruptSignal();
        let outcome: RestoreOutcome;
        try {
          outcome = await manager.restoreFromBackup(
            {
              backupId,
              at: flags.at,
              source: flags.source,
              destination: flags.from,
              targetLocation: flags.target,
              include: flags.include,
              verification: flags.verify,
              force: flags.force,
              archive: flags.archive,
              targetDatabase: flags.targetDb,
              pipe: flags.pipe,
              signal: interrupt.signal,
            },
            (e) => progress.onEvent(e),
          );
        } finally {
          progress.stop();
          interrupt.dispose();
        }
        if (outcome.picked && !ctx.options.quiet) process.stderr.write(`${outcome.picked}\n`);
        ctx.render(outcome, renderRestore);
        // The result is what was restored; what went amiss goes to stderr (with --json it is in the result).
        if (!ctx.options.json) for (const w of outcome.restore?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
        if ((outcome.restore?.verified?.mismatches.length ?? 0) > 0) process.exitCode = ExitCode.Damaged;
      }),
    'bkdr restore --source files --at "2h ago" --target /tmp/restore',
    'bkdr restore 3f2a9c1d --archive backup.tar.gz',
  );
}

function renderRestore(o: RestoreOutcome): string {
  if (o.into) return `restored backup ${o.backup.id.slice(0, 8)} of ${o.backup.source}: ${o.into}`;
  if (o.archive) return `wrote ${o.archive.file} (${o.archive.entries} entries, ${formatBytes(o.archive.bytes)}) from backup ${o.backup.id.slice(0, 8)}`;
  const r = o.restore;
  if (!r) return '';
  const lines = [
    `restored backup ${o.backup.id.slice(0, 8)} into ${r.target}: ${r.files} files (${r.hardlinks} hard links), ${r.dirs} dirs, ${r.symlinks} symlinks, ${r.specials} special files, ${formatBytes(r.bytes)}`,
  ];
  if (r.verified)
    lines.push(
      r.verified.mismatches.length === 0 ? `verified ${r.verified.files} files: all match` : `VERIFY FAILED for ${r.verified.mismatches.length} files: ${r.verified.mismatches.slice(0, 5).join(', ')}`,
    );
  return lines.join('\n');
}
