import { appendFile, chmod, chown, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { shellQuote, walCommand } from './wal-command.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { PostgresWalStore, type WalSegmentInfo } from '../sources/postgres-wal-store.js';
import { feedCommand } from '../sources/stream-source.js';
import { streamBackupFile } from './snapshot-stream.js';

export interface RecoverableWindow {
  /** The end of the first base backup: the earliest consistent point. */
  earliest: string;
  /** The last WAL file's archive time (or the newest base backup's end when no WAL came after it). */
  latest: string;
}

/** What a physical postgres source can be restored to, from its base backups and archived WAL. */
export function recoverableWindow(baseBackups: readonly Snapshot[], wal: readonly WalSegmentInfo[]): RecoverableWindow | undefined {
  if (baseBackups.length === 0) return undefined;
  const ends = baseBackups.map((b) => b.endTime).sort();
  const lastPush = wal
    .map((w) => w.pushedAt)
    .sort()
    .at(-1);
  return { earliest: ends[0]!, latest: lastPush && lastPush > ends.at(-1)! ? lastPush : ends.at(-1)! };
}

export interface PointInTimeRestore {
  baseBackup: Snapshot;
  window: RecoverableWindow;
  target: string;
  recoveryTarget?: string;
}

/**
 * Restores the newest base backup that ended at or before `at` into `target` and
 * writes the recovery settings, so that PostgreSQL, started on it, replays archived
 * WAL (through `bkdr wal fetch`) up to `at` and promotes. A time outside the
 * recoverable window is refused before anything is written.
 */
export async function restorePointInTime(opts: {
  repo: Repository;
  source: string;
  configPath: string;
  at?: Date | undefined;
  target: string;
  force?: boolean | undefined;
  passwordFileForRecovery?: string | undefined;
  signal?: AbortSignal | undefined;
}): Promise<PointInTimeRestore> {
  const baseBackups = (await opts.repo.listSnapshots()).filter((s) => s.source === opts.source);
  const wal = await new PostgresWalStore(opts.repo, opts.source).list();
  const window = recoverableWindow(baseBackups, wal);
  if (!window) throw new UsageError(`no base backup of ${opts.source} on ${opts.repo.adapter.name}`);
  const at = opts.at?.toISOString();
  if (at && (at < window.earliest || at > window.latest)) {
    throw new UsageError(`${at} is outside the recoverable window of ${opts.source}: ${window.earliest} to ${window.latest}`);
  }
  const candidates = baseBackups.filter((b) => !at || b.endTime <= at).sort((a, b) => a.endTime.localeCompare(b.endTime));
  const baseBackup = candidates.at(-1)!;

  await mkdir(opts.target, { recursive: true, mode: 0o700 });
  if ((await readdir(opts.target)).length > 0 && !opts.force) {
    throw new UsageError(`${opts.target} is not empty: a data directory is restored into an empty one`, { remedy: { option: 'force', to: 'restore into it anyway' } });
  }
  await chmod(opts.target, 0o700);
  const { stream } = await streamBackupFile(opts.repo, baseBackup);
  // tar run by root keeps the archive's owners: the files stay the cluster user's.
  await feedCommand(`restore of ${opts.source}`, 'tar', ['-x', '-f', '-', '-C', opts.target], stream, { signal: opts.signal });

  const env = opts.passwordFileForRecovery ? `BKDR_PASSWORD_FILE=${shellQuote(opts.passwordFileForRecovery)} ` : '';
  // Fetched ahead by one worker and staged inside pg_wal: PostgreSQL runs the command from the data
  // directory, a subdirectory there is none of its WAL, and a staged segment is renamed into place.
  const restoreCommand = walCommand('fetch', { configPath: opts.configPath, source: opts.source, spool: 'pg_wal/bkdr-spool', env });
  const settings = [
    '',
    `# written by bkdr restore of backup ${baseBackup.id.slice(0, 8)}`,
    `restore_command = '${restoreCommand.replace(/'/g, "''")}'`,
    // PostgreSQL reads timestamps with a space and a numeric zone, not ISO's T and Z.
    ...(at ? [`recovery_target_time = '${at.replace('T', ' ').replace('Z', '+00')}'`, "recovery_target_action = 'promote'"] : []),
    '',
  ];
  await appendFile(join(opts.target, 'postgresql.auto.conf'), settings.join('\n'));
  await writeFile(join(opts.target, 'recovery.signal'), '');
  // PostgreSQL starts only on a data directory its own user owns, which is whoever owns the restored files.
  const owner = await stat(join(opts.target, 'PG_VERSION'));
  if (process.getuid?.() === 0) for (const path of [opts.target, join(opts.target, 'recovery.signal'), join(opts.target, 'postgresql.auto.conf')]) await chown(path, owner.uid, owner.gid);
  return { baseBackup, window, target: opts.target, ...(at ? { recoveryTarget: at } : {}) };
}
