import type { Command } from 'commander';
import type { VerifyResult } from '../../../backup/backup-manager.js';
import { UsageError } from '../../../core/errors.js';
import { ExitCode } from '../../../core/exit-codes.js';
import type { CliContext } from '../../context.js';
import { formatBytes } from '../../format.js';
import { withExample } from '../../with-example.js';
import { collect } from '../../options.js';
import { backupManager, interruptSignal } from '../../services.js';
import { destinationFailures, exitCodeFor } from './failures.js';

export function registerBackupVerify(backup: Command, ctx: CliContext): void {
  withExample(
    backup
      .command('verify [backupId]')
      .description('check backups: structure, data, test restore (exit 5 when damaged)')
      .option('--all', 'verify every backup (the default without an id)')
      .option('--read-data [percent]', 'download and check packs: all, or this percent, checked longest ago first')
      .option('--test-restore', 'restore into a scratch directory and compare')
      .option('--destination <name>', 'only this destination (repeatable)', collect)
      .option('--lock-wait <duration>', 'wait this long for a prune to finish (30s, 5m)')
      .action(async (backupId: string | undefined, flags: { all?: boolean; readData?: string | boolean; testRestore?: boolean; destination?: string[]; lockWait?: string }) => {
        if (backupId && flags.all) throw new UsageError('pass a backup id or --all, not both');
        const manager = await backupManager(ctx, { lockWait: flags.lockWait, readsBackups: true });
        const interrupt = interruptSignal();
        let result: VerifyResult;
        try {
          result = await manager.verifyBackups({ backupId, readDataPercent: parsePercent(flags.readData), testRestore: flags.testRestore, destinations: flags.destination, signal: interrupt.signal });
        } finally {
          interrupt.dispose();
        }
        ctx.render(result, renderVerify);
        for (const f of result.failures) ctx.logger.error(`${f.destination}: ${f.error}`);
        process.exitCode = result.status === 'damaged' ? ExitCode.Damaged : exitCodeFor({ status: result.status === 'clean' ? 'succeeded' : result.status, failures: result.failures });
      }),
    'bkdr backup verify --all --read-data=10',
    'bkdr backup verify 3f2a9c1d --test-restore',
  );
}

/** `--read-data` alone means every pack; `--read-data=10` or `10%` a tenth of them. */
function parsePercent(value: string | boolean | undefined): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 100;
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new UsageError(`--read-data ${value}: a percentage above 0 and at most 100`);
  return n;
}

function renderVerify(r: VerifyResult): string {
  const lines: string[] = [];
  for (const d of r.destinations) {
    const x = d.report;
    const coverage = d.coverage ? `, read-data coverage ${d.coverage.checked}/${d.coverage.total} packs` : '';
    lines.push(
      `${d.destination}: ${x.snapshots} backups, ${x.trees} trees, ${x.dataBlobs} data blobs; ${x.packs.indexed} packs, ${x.packs.read} read${coverage}${x.packs.unindexed > 0 ? `; ${x.packs.unindexed} packs no index names (prune removes them)` : ''}`,
    );
    for (const p of x.problems) lines.push(`  DAMAGE: ${p.message}`);
    for (const p of x.damagedPacks) {
      lines.push(`  pack ${p.id.slice(0, 12)} (${p.problem}) holds data of ${p.files.length} files:`);
      for (const f of p.files.slice(0, 50)) lines.push(`    backup ${f.snapshot.slice(0, 8)}: ${f.path}`);
      if (p.files.length > 50) lines.push(`    ... and ${p.files.length - 50} more (--json lists them all)`);
    }
    const elsewhere = x.affected.filter((a) => !x.damagedPacks.some((p) => p.files.includes(a)));
    for (const f of elsewhere.slice(0, 50)) lines.push(`  affected: backup ${f.snapshot.slice(0, 8)}: ${f.path} (${f.reason})`);
    for (const t of d.testRestores) {
      lines.push(
        t.error
          ? `  test restore of ${t.snapshot.slice(0, 8)} (${t.source}) FAILED: ${t.error}`
          : t.mismatches.length > 0
            ? `  test restore of ${t.snapshot.slice(0, 8)} (${t.source}): ${t.mismatches.length} files DIFFER: ${t.mismatches.slice(0, 5).join(', ')}`
            : `  test restore of ${t.snapshot.slice(0, 8)} (${t.source}): ${t.files} files, ${formatBytes(t.bytes)}, all match`,
      );
    }
  }
  if (r.failures.length > 0) lines.push(destinationFailures(r.failures));
  lines.push(`verify ${r.runId.slice(0, 8)}: ${r.status === 'damaged' ? 'DAMAGED' : r.status}`);
  return lines.join('\n');
}
