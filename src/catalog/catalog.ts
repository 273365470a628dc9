import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { OperationError } from '../core/errors.js';
import { AuditLog } from './audit-log.js';
import { BackupsTable } from './backups-table.js';
import { migrations } from './migrations/index.js';
import { PackChecksTable } from './pack-checks-table.js';
import { RunLogsTable, RunsTable } from './runs-table.js';

export type SqliteDatabase = Database.Database;

/** The local SQLite catalog (DESIGN.md "Catalog"): a fast index of the repositories plus what only this host knows. */
export interface Catalog {
  readonly path: string;
  readonly db: SqliteDatabase;
  readonly runs: RunsTable;
  readonly runLogs: RunLogsTable;
  readonly backups: BackupsTable;
  readonly audit: AuditLog;
  readonly packChecks: PackChecksTable;
  close(): void;
}

export function openCatalog(path: string, opts: { readonly?: boolean } = {}): Catalog {
  if (!opts.readonly) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let db: SqliteDatabase;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new OperationError(`cannot open catalog ${path}: ${(err as Error).message}`, { cause: err });
  }
  // Before anything that writes: a second bkdr opening a new catalog waits for the first instead of failing.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('foreign_keys = ON');
  if (!opts.readonly) {
    enableWal(db);
    migrate(db);
    // Run logs and the audit trail can name paths and hosts: owner-only, like ~/.ssh.
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) chmodSync(path + suffix, 0o600);
  }
  return {
    path,
    db,
    runs: new RunsTable(db),
    runLogs: new RunLogsTable(db),
    backups: new BackupsTable(db),
    audit: new AuditLog(db),
    packChecks: new PackChecksTable(db),
    close: () => db.close(),
  };
}

const BUSY_TIMEOUT_MS = 5000;

/**
 * SQLite answers SQLITE_BUSY at once, without its busy handler, when another process holds the new database
 * while this one switches it to WAL: so retry here, as the busy timeout would.
 */
function enableWal(db: SqliteDatabase): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/**
 * Two processes can open a new catalog at once (two cron jobs, a backup and a prune): whether a migration
 * is applied is decided inside the same write transaction that applies it, so only one of them does.
 */
function migrate(db: SqliteDatabase): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').pluck();
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations) {
    if (isApplied.get(m.version) !== undefined) continue;
    db.transaction(() => {
      if (isApplied.get(m.version) !== undefined) return;
      db.exec(m.up);
      record.run(m.version, m.name, new Date().toISOString());
    }).immediate();
  }
}
