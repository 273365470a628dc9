import { chmodSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { OperationError } from '../core/errors.js';
import { AuditLog, auditAnchorPath } from './audit-log.js';
import { BackupsTable } from './backups-table.js';
import { DrDetectionsTable } from './dr-detections-table.js';
import { DrExecutionsTable } from './dr-executions-table.js';
import { HealthSamplesTable } from './health-samples-table.js';
import { IncidentsTable } from './incidents-table.js';
import { migrations } from './migrations/index.js';
import { PackChecksTable } from './pack-checks-table.js';
import { RisksTable } from './risks-table.js';
import { AssessmentsTable } from './assessments-table.js';
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
  readonly drExecutions: DrExecutionsTable;
  readonly detections: DrDetectionsTable;
  readonly healthSamples: HealthSamplesTable;
  readonly incidents: IncidentsTable;
  readonly risks: RisksTable;
  readonly assessments: AssessmentsTable;
  close(): void;
}

/**
 * The catalog file cannot be used: not a database, damaged, or not ours to write. The
 * repositories still hold every backup; the message says how to get a catalog back.
 */
export class CatalogUnusableError extends OperationError {
  constructor(
    readonly catalogPath: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`catalog ${catalogPath} cannot be used (${reason})`, { ...options, remedy: { option: 'catalogRebuild', to: 'keep it aside and rebuild it from the repositories' } });
  }
}

/** SQLite's and the file system's words for a catalog that will not open, however often it is retried. */
const UNUSABLE = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_PERM', 'EPERM', 'EACCES', 'EROFS', 'ENOTDIR', 'EISDIR']);

/** `replacing`: this catalog takes the place of one kept aside as damaged (`catalog rebuild`). */
export function openCatalog(path: string, opts: { readonly?: boolean; replacing?: { keptAt: string; reason: string } } = {}): Catalog {
  const inMemory = path === ':memory:';
  const isNew = !inMemory && !existsSync(path);
  let db: SqliteDatabase | undefined;
  try {
    if (!opts.readonly && !inMemory) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    // Before anything that writes: a second bkdr opening a new catalog waits for the first instead of failing.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    if (!opts.readonly) {
      if (!inMemory) enableWal(db);
      migrate(db);
      // Run logs and the audit trail can name paths and hosts: owner-only, like ~/.ssh.
      if (!inMemory) for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) chmodSync(path + suffix, 0o600);
    }
  } catch (err) {
    db?.close();
    const code = (err as { code?: string }).code;
    if (code && UNUSABLE.has(code)) throw new CatalogUnusableError(path, (err as Error).message, { cause: err });
    throw new OperationError(`cannot open catalog ${path}: ${(err as Error).message}`, { cause: err });
  }
  const runs = new RunsTable(db);
  const drExecutions = new DrExecutionsTable(db);
  // Every command sees runs whose process died as `died`, not as running forever; DR executions as `interrupted`, resumable.
  if (!opts.readonly) {
    runs.reapDied();
    drExecutions.reapDied();
  }
  const audit = new AuditLog(db, inMemory || opts.readonly ? undefined : auditAnchorPath(path));
  // A catalog made anew where one had an audit history: the chain starts over, and says why.
  if (isNew && !opts.readonly) audit.recordLostHistory(opts.replacing);
  return {
    path,
    db,
    runs,
    runLogs: new RunLogsTable(db),
    backups: new BackupsTable(db),
    audit,
    packChecks: new PackChecksTable(db),
    drExecutions,
    detections: new DrDetectionsTable(db),
    healthSamples: new HealthSamplesTable(db),
    incidents: new IncidentsTable(db),
    risks: new RisksTable(db),
    assessments: new AssessmentsTable(db),
    close: () => db.close(),
  };
}

/** The files of a catalog at `path`, its own and SQLite's, that belong to bkdr and never to a backup. */
export function catalogFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`, `${path}-journal`, auditAnchorPath(path)];
}

/**
 * `catalog rebuild` of a catalog that cannot be used: renames it (and SQLite's side
 * files) to `<catalog>.damaged-<time>`, never deleting it, so that what only it held
 * (run logs, the audit trail) can still be read. Returns the new name.
 */
export function keepCatalogAside(path: string): string {
  const aside = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    throw new OperationError(`cannot move the damaged catalog ${path} aside: ${(err as Error).message}`, { cause: err });
  }
  for (const suffix of ['-wal', '-shm', '-journal']) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  return aside;
}

/**
 * Whether the catalog passes SQLite's own consistency check. A catalog can open
 * and still hold damaged pages that only a query reaches.
 */
export function catalogIntact(catalog: Catalog): { ok: true } | { ok: false; problem: string } {
  try {
    const rows = catalog.db.pragma('quick_check') as { quick_check: string }[];
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    return problems.length === 0 ? { ok: true } : { ok: false, problem: problems.slice(0, 3).join('; ') };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
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
    if (m.foreignKeysOff) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        if (isApplied.get(m.version) !== undefined) return;
        db.exec(m.up);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) throw new OperationError(`catalog migration ${m.version} (${m.name}) would break ${broken.length} references; not applied`);
        record.run(m.version, m.name, new Date().toISOString());
      }).immediate();
    } finally {
      if (m.foreignKeysOff) db.pragma('foreign_keys = ON');
    }
  }
}
