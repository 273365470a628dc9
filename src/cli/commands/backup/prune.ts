import type { Command } from 'commander';
import type { PruneResult } from '../../../backup/backup-manager.js';
import type { CliContext } from '../../context.js';
import { createTable, formatBytes, shortTime } from '../../format.js';
import { withExample } from '../../with-example.js';
import { collect } from '../../options.js';
import { backupManager, interruptSignal } from '../../services.js';
import { destinationFailures, exitCodeFor } from './failures.js';

export function registerBackupPrune(backup: Command, ctx: CliContext): void {
  withExample(
    backup
      .command('prune')
      .description('apply retention, then delete data no remaining backup needs')
      .option('--dry-run', 'show what would be kept and forgotten, change nothing')
      .option('--destination <name>', 'only this destination (repeatable)', collect)
      .option('--lock-wait <duration>', 'wait this long for other runs to finish (30s, 5m)')
      .option('--count-empty', 'let empty backups taken after non-empty ones count toward retention (they do not by default)')
      .option('--force', 'prune even where retention would forget every non-empty backup of a source')
      .action(async (flags: { dryRun?: boolean; destination?: string[]; lockWait?: string; countEmpty?: boolean; force?: boolean }) => {
        const manager = await backupManager(ctx, { lockWait: flags.lockWait });
        const interrupt = interruptSignal();
        let result: PruneResult;
        try {
          result = await manager.pruneBackups({ dryRun: flags.dryRun, destinations: flags.destination, signal: interrupt.signal, countEmpty: flags.countEmpty, force: flags.force });
        } finally {
          interrupt.dispose();
        }
        ctx.render(result, renderPrune);
        for (const f of result.failures) ctx.logger.error(`${f.destination}: ${f.error}${f.refused ? ' (pass --force to prune anyway)' : ''}`);
        process.exitCode = exitCodeFor(result);
      }),
    'bkdr backup prune --dry-run',
    'bkdr backup prune --lock-wait 10m',
  );
}

function renderPrune(r: PruneResult): string {
  const lines: string[] = [];
  for (const d of r.destinations) {
    const table = createTable(['id', 'time', 'source', 'type', 'decision', 'kept by']);
    for (const x of d.decisions)
      table.push([x.id.slice(0, 8), shortTime(x.time), x.source, x.strategy, x.keep ? 'keep' : 'forget', x.uncounted ?? (x.reasons.join(', ') || (x.keep ? 'no policy' : '-'))]);
    const kept = d.decisions.filter((x) => x.keep).length;
    const p = d.plan.packs;
    lines.push(`destination ${d.destination}`, table.toString());
    if (d.report) {
      lines.push(
        `${d.destination}: kept ${kept}, forgot ${d.forgotten} backups; deleted ${d.report.packsDeleted - d.report.packsRepacked} packs, repacked ${d.report.packsRepacked} (${d.report.blobsRepacked} blobs); freed ${formatBytes(d.report.bytesFreed)} (${formatBytes(d.report.bytesBefore)} → ${formatBytes(d.report.bytesAfter)})`,
      );
    } else {
      lines.push(
        `${d.destination}: would keep ${kept}, forget ${d.forgotten} backups; would delete ${p.deleted} packs (${p.unindexed} unindexed) and repack ${p.repacked}, freeing about ${formatBytes(d.plan.bytes.toFree)} of ${formatBytes(d.plan.bytes.total)}`,
      );
    }
  }
  for (const d of r.destinations)
    for (const w of d.wal) lines.push(`${d.destination}: ${r.dryRun ? 'would delete' : 'deleted'} ${w.files} WAL files of ${w.source} older than ${w.before} (the oldest kept base backup's start)`);
  if (r.failures.length > 0) lines.push(destinationFailures(r.failures));
  if (r.dryRun) lines.push('dry run: nothing was changed');
  return lines.join('\n');
}
