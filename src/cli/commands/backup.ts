import type { Command } from 'commander';
import type { BackupRunResult, BackupStatus, BackupSummary, LsEntry, PruneResult, RepairResult, VerifyResult } from '../../backup/backup-manager.js';
import { parseDuration } from '../../core/duration.js';
import { ExitCode } from '../../core/exit-codes.js';
import { UsageError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { createTable, formatBytes, formatDuration, shortTime } from '../format.js';
import { withExample } from '../not-available.js';
import { collect } from '../options.js';
import { createProgressReporter } from '../progress.js';
import { backupManager, interruptSignal } from '../services.js';
import { continuousSources, reportWatchEvent } from '../watch-report.js';

interface RunFlags {
  source?: string[];
  type?: string;
  destination?: string[];
  tag?: string[];
  priority: string;
  dryRun?: boolean;
  lockWait?: string;
}

/**
 * Partial is exit 3. A run that failed everywhere for one reason exits with that reason's
 * code: 4 when every destination was locked, 2 for a missing password or bad config.
 */
function exitCodeFor(result: { status: 'succeeded' | 'partial' | 'failed'; failures: { exitCode: number }[] }): ExitCode {
  if (result.status === 'succeeded') return ExitCode.Ok;
  if (result.status === 'partial') return ExitCode.Partial;
  const codes = new Set(result.failures.map((f) => f.exitCode));
  const only = codes.size === 1 ? ([...codes][0] as ExitCode) : undefined;
  return only === ExitCode.Locked || only === ExitCode.Usage ? only : ExitCode.Failed;
}

export function registerBackup(program: Command, ctx: CliContext): void {
  const backup = withExample(program.command('backup').description('create, list, inspect, verify and prune backups'), 'bkdr backup run --source files');

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
        const manager = await backupManager(ctx, { lockWait: flags.lockWait });
        const progress = await createProgressReporter(ctx);
        const interrupt = interruptSignal();
        let result: BackupRunResult;
        try {
          result = await manager.createBackup(
            flags.source ?? 'all',
            { type, priority, tags: flags.tag, destinations: flags.destination, dryRun: flags.dryRun, estimate: !ctx.options.quiet, signal: interrupt.signal },
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

  withExample(
    backup
      .command('status')
      .description('totals, recent failures, last backup per source, storage per destination, 3-2-1 state')
      .action(async () => {
        const manager = await backupManager(ctx, { readsBackups: true });
        ctx.render(await manager.getBackupStatus(), renderStatus);
      }),
    'bkdr backup status --json',
  );

  withExample(
    backup
      .command('logs <runId>')
      .description('the structured log of one run')
      .action(async (runId: string) => {
        const manager = await backupManager(ctx);
        ctx.render(manager.getExecutionLogs(runId), (r) =>
          [
            `run ${r.run?.id} ${r.run?.kind} ${r.run?.status} started ${r.run?.startedAt}${r.run?.finishedAt ? ` finished ${r.run.finishedAt}` : ''}`,
            ...r.logs.map((l) => `${l.time} ${l.level.padEnd(5)} ${l.message}${l.fields && Object.keys(l.fields).length > 0 ? ` ${JSON.stringify(l.fields)}` : ''}`),
          ].join('\n'),
        );
      }),
    'bkdr backup logs 7c01e2b4',
  );

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

/** `--read-data` alone means every pack; `--read-data=10` or `10%` a tenth of them. */
function parsePercent(value: string | boolean | undefined): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 100;
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new UsageError(`--read-data ${value}: a percentage above 0 and at most 100`);
  return n;
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
      table.push([b.source, b.destination, b.snapshotId.slice(0, 8), b.strategy, b.summary.files, `${b.summary.newFiles}/${b.summary.changedFiles}`, formatBytes(b.summary.bytes), formatBytes(b.summary.addedBytes), formatDuration(b.durationMs)]);
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

function renderPrune(r: PruneResult): string {
  const lines: string[] = [];
  for (const d of r.destinations) {
    const table = createTable(['id', 'time', 'source', 'type', 'decision', 'kept by']);
    for (const x of d.decisions) table.push([x.id.slice(0, 8), shortTime(x.time), x.source, x.strategy, x.keep ? 'keep' : 'forget', x.uncounted ?? (x.reasons.join(', ') || (x.keep ? 'no policy' : '-'))]);
    const kept = d.decisions.filter((x) => x.keep).length;
    const p = d.plan.packs;
    lines.push(`destination ${d.destination}`, table.toString());
    if (d.report) {
      lines.push(
        `${d.destination}: kept ${kept}, forgot ${d.forgotten} backups; deleted ${d.report.packsDeleted - d.report.packsRepacked} packs, repacked ${d.report.packsRepacked} (${d.report.blobsRepacked} blobs); freed ${formatBytes(d.report.bytesFreed)} (${formatBytes(d.report.bytesBefore)} → ${formatBytes(d.report.bytesAfter)})`,
      );
    } else {
      lines.push(`${d.destination}: would keep ${kept}, forget ${d.forgotten} backups; would delete ${p.deleted} packs (${p.unindexed} unindexed) and repack ${p.repacked}, freeing about ${formatBytes(d.plan.bytes.toFree)} of ${formatBytes(d.plan.bytes.total)}`);
    }
  }
  for (const d of r.destinations) for (const w of d.wal) lines.push(`${d.destination}: ${r.dryRun ? 'would delete' : 'deleted'} ${w.files} WAL files of ${w.source} older than ${w.before} (the oldest kept base backup's start)`);
  if (r.failures.length > 0) lines.push(destinationFailures(r.failures));
  if (r.dryRun) lines.push('dry run: nothing was changed');
  return lines.join('\n');
}

function destinationFailures(failures: { destination: string; error: string }[]): string {
  const table = createTable(['destination', 'failed because']);
  for (const f of failures) table.push([f.destination, f.error]);
  return table.toString();
}

function renderVerify(r: VerifyResult): string {
  const lines: string[] = [];
  for (const d of r.destinations) {
    const x = d.report;
    const coverage = d.coverage ? `, read-data coverage ${d.coverage.checked}/${d.coverage.total} packs` : '';
    lines.push(`${d.destination}: ${x.snapshots} backups, ${x.trees} trees, ${x.dataBlobs} data blobs; ${x.packs.indexed} packs, ${x.packs.read} read${coverage}${x.packs.unindexed > 0 ? `; ${x.packs.unindexed} packs no index names (prune removes them)` : ''}`);
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

function renderList(backups: BackupSummary[]): string {
  if (backups.length === 0) return 'no backups';
  const table = createTable(['id', 'time', 'source', 'destination', 'type', 'files', 'size', 'tags']);
  for (const b of backups) table.push([b.id.slice(0, 8), shortTime(b.time), b.source, b.destination, b.strategy, b.summary.files, formatBytes(b.summary.bytes), b.tags.join(',')]);
  return table.toString();
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
  for (const e of shown.entries ?? []) lines.push(`${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${e.mode.padStart(6)} ${String(e.size).padStart(12)} ${shortTime(e.mtime)} ${e.path}${e.linkTarget ? ` -> ${e.linkTarget}` : ''}`);
  return lines.join('\n');
}

function renderStatus(s: BackupStatus): string {
  const totals = `${s.totals.backups} backups of ${s.totals.sources} sources on ${s.totals.destinations} destinations, ${formatBytes(s.totals.bytes)} backed up`;
  const last = createTable(['source', 'last backup', 'time', 'destination', 'type']);
  for (const l of s.lastPerSource) last.push([l.source, l.backupId?.slice(0, 8) ?? 'never', l.time ? shortTime(l.time) : '-', l.destination ?? '-', l.strategy ?? '-']);
  const dest = createTable(['destination', 'type', 'reachable', 'encrypted', 'offsite', 'compression', 'backups', 'packs', 'stored']);
  for (const d of s.destinations) dest.push([d.name, d.type, d.reachable ? 'yes' : 'NO', d.encrypted ? 'yes' : 'no', d.offsite ? 'yes' : 'no', d.compression, d.backups, d.packs, formatBytes(d.storedBytes)]);
  const r = s.rule321;
  const rule = `3-2-1: ${r.met ? 'met' : 'NOT met'} — ${r.copies} copies (the original included), ${r.media} media, ${r.offsite} offsite`;
  const parts = [totals, rule, last.toString(), dest.toString()];
  for (const w of s.recoverable) parts.push(`${w.source}: recoverable from ${w.earliest} to ${w.latest} (point-in-time, on ${w.destination})`);
  for (const l of s.lastPerSource) if (l.missingPaths) parts.push(`${l.source}: its last backup is missing ${l.missingPaths.join(', ')} (not reachable when it ran)`);
  if (s.recentFailures.length > 0) {
    const failures = createTable(['run', 'kind', 'status', 'started', 'error']);
    for (const f of s.recentFailures) failures.push([f.runId.slice(0, 8), f.kind, f.status, shortTime(f.startedAt), f.error.slice(0, 80)]);
    parts.push('recent failures:', failures.toString());
  } else parts.push('no recent failures');
  return parts.join('\n');
}
