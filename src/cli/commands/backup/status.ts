import type { Command } from 'commander';
import type { BackupStatus } from '../../../backup/backup-manager.js';
import type { CliContext } from '../../context.js';
import { createTable, formatBytes, shortTime } from '../../format.js';
import { withExample } from '../../with-example.js';
import { backupManager } from '../../services.js';

export function registerBackupStatus(backup: Command, ctx: CliContext): void {
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
}

function renderStatus(s: BackupStatus): string {
  const totals = `${s.totals.backups} backups of ${s.totals.sources} sources on ${s.totals.destinations} destinations, ${formatBytes(s.totals.bytes)} backed up`;
  const last = createTable(['source', 'last backup', 'time', 'destination', 'type']);
  for (const l of s.lastPerSource) last.push([l.source, l.backupId?.slice(0, 8) ?? 'never', l.time ? shortTime(l.time) : '-', l.destination ?? '-', l.strategy ?? '-']);
  const dest = createTable(['destination', 'type', 'reachable', 'encrypted', 'offsite', 'compression', 'backups', 'packs', 'stored']);
  for (const d of s.destinations)
    dest.push([d.name, d.type, d.reachable ? 'yes' : 'NO', d.encrypted ? 'yes' : 'no', d.offsite ? 'yes' : 'no', d.compression, d.backups, d.packs, formatBytes(d.storedBytes)]);
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
