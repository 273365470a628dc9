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
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  if (!opts.readonly) {
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

function migrate(db: SqliteDatabase): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.up);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }).immediate();
  }
}
