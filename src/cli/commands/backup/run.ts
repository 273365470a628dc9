import type { Command } from 'commander';
import type { BackupRunResult } from '../../../backup/backup-manager.js';
import { UsageError } from '../../../core/errors.js';
import type { CliContext } from '../../context.js';
import { createTable, formatBytes, formatDuration } from '../../format.js';
import { withExample } from '../../with-example.js';
import { collect } from '../../options.js';
import { createProgressReporter } from '../../progress.js';
import { backupManager, interruptSignal } from '../../services.js';
import { applyProcessPriority } from '../../../runtime/process-priority.js';
import { exitCodeFor } from './failures.js';

interface RunFlags {
  source?: string[];
  type?: string;
  destination?: string[];
  tag?: string[];
  priority: string;
  dryRun?: boolean;
  lockWait?: string;
}

export function registerBackupRun(backup: Command, ctx: CliContext): void {
  withExample(
    backup
      .command('run')
      .description('create a backup of the named (default: all) sources')
      .option('--source <name>', 'source to back up (repeatable)', collect)
      .option('--type <type>', 'full | incremental | differential')
      .option('--destination <name>', 'destination to write (repeatable)', collect)
      .option('--tag <tag>', 'tag the snapshot (repeatable)', collect)
      .option('--priority <priority>', 'low | normal | high', 'normal')
      .option('--dry-run', 'show what would be backed up, write nothing')
      .option('--lock-wait <duration>', 'wait this long for a prune to finish (30s, 5m)')
      .action(async (flags: RunFlags) => {
        const type = parseChoice('--type', flags.type, ['full', 'incremental', 'differential'] as const);
        const priority = parseChoice('--priority', flags.priority, ['low', 'normal', 'high'] as const);
        // Before anything is read: key derivation, the walk and every thread and child started later
        // inherit it. Nothing restores it: the process ends with the run.
        const applied = priority !== undefined && priority !== 'normal' ? applyProcessPriority(priority) : undefined;
        if (applied && !applied.complete) ctx.logger.warn(`priority ${applied.applied}`);
        const manager = await backupManager(ctx, { lockWait: flags.lockWait });
        const progress = await createProgressReporter(ctx);
        const interrupt = interruptSignal();
        let result: BackupRunResult;
        try {
          result = await manager.createBackup(
            flags.source ?? 'all',
            { type, priority, priorityApplied: applied?.applied, tags: flags.tag, destinations: flags.destination, dryRun: flags.dryRun, estimate: !ctx.options.quiet, signal: interrupt.signal },
            (e) => progress.onEvent(e),
          );
        } finally {
          progress.stop();
          interrupt.dispose();
        }
        ctx.render(result, renderRunResult);
        // The table is the result; cron mails stderr, so each failure also gets its line there.
        for (const f of result.failures) ctx.logger.error(`${f.source} → ${f.destination}: ${f.error}`);
        process.exitCode = exitCodeFor(result);
      }),
    'bkdr backup run --source files --type full --tag nightly',
  );
}

function parseChoice<T extends string>(flag: string, value: string | undefined, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag} ${value}: must be one of ${choices.join(', ')}`);
  return value as T;
}

function renderRunResult(r: BackupRunResult): string {
  const lines: string[] = [];
  if (r.dryRun) {
    const table = createTable(['source', 'destination', 'would run', 'against', 'files', 'size']);
    for (const p of r.planned) table.push([p.source, p.destination, p.strategy, p.parent?.slice(0, 8) ?? '-', p.files, formatBytes(p.bytes)]);
    lines.push(table.toString(), 'dry run: nothing was written');
  }
  if (r.backups.length > 0) {
    const table = createTable(['source', 'destination', 'snapshot', 'type', 'files', 'new/changed', 'size', 'added', 'time']);
    for (const b of r.backups) {
      table.push([
        b.source,
        b.destination,
        b.snapshotId.slice(0, 8),
        b.strategy,
        b.summary.files,
        `${b.summary.newFiles}/${b.summary.changedFiles}`,
        formatBytes(b.summary.bytes),
        formatBytes(b.summary.addedBytes),
        formatDuration(b.durationMs),
      ]);
    }
    lines.push(table.toString());
  }
  if (r.failures.length > 0) {
    const table = createTable(['source', 'destination', 'failed because']);
    for (const f of r.failures) table.push([f.source, f.destination, f.error]);
    lines.push(table.toString());
  }
  lines.push(`run ${r.runId.slice(0, 8)}: ${r.status} in ${formatDuration(r.durationMs)}`);
  return lines.join('\n');
}
