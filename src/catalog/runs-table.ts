import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { UsageError } from '../core/errors.js';
import { processAlive } from '../core/process-alive.js';

/** `died`: the process running it ended without finishing it (kill -9, a crash, power loss). */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'partial' | 'interrupted' | 'died';

/** Statuses that count as a failure in `backup status` and in KPIs. */
export const FAILED_RUN_STATUSES: readonly RunStatus[] = ['failed', 'partial', 'interrupted', 'died'];

export interface RunRecord {
  id: string;
  kind: string;
  source: string | null;
  destinations: string[];
  strategy: string | null;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  summary: unknown;
  /** The host and process that ran it (absent on runs recorded before bkdr kept them). */
  host: string | null;
  pid: number | null;
}

interface RunRow {
  id: string;
  kind: string;
  source: string | null;
  destinations: string;
  strategy: string | null;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  summary: string | null;
  host: string | null;
  pid: number | null;
}

const toRecord = (r: RunRow): RunRecord => ({
  id: r.id,
  kind: r.kind,
  source: r.source,
  destinations: JSON.parse(r.destinations) as string[],
  strategy: r.strategy,
  status: r.status,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  error: r.error,
  summary: r.summary ? (JSON.parse(r.summary) as unknown) : null,
  host: r.host,
  pid: r.pid,
});

export class RunsTable {
  constructor(private readonly db: Database.Database) {}

  /** `startedAt`: when the run began, if before its row is written (default: now). */
  start(run: { kind: string; source?: string; destinations?: string[]; strategy?: string; startedAt?: Date }): string {
    const id = randomBytes(8).toString('hex');
    this.db
      .prepare('INSERT INTO runs (id, kind, source, destinations, strategy, status, started_at, host, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, run.kind, run.source ?? null, JSON.stringify(run.destinations ?? []), run.strategy ?? null, 'running', (run.startedAt ?? new Date()).toISOString(), hostname(), process.pid);
    return id;
  }

  /**
   * Marks `died` the runs of this host still `running` whose process is gone: nothing
   * else ever finishes them. Runs of another host (a catalog on shared storage) are
   * left alone, since their processes cannot be seen from here. Returns their ids.
   */
  reapDied(): string[] {
    const running = this.db.prepare("SELECT id, pid FROM runs WHERE status = 'running' AND host = ? AND pid IS NOT NULL").all(hostname()) as { id: string; pid: number }[];
    const died = running.filter((r) => r.pid !== process.pid && !processAlive(r.pid));
    const mark = this.db.prepare("UPDATE runs SET status = 'died', finished_at = ?, error = ? WHERE id = ? AND status = 'running'");
    for (const r of died) mark.run(new Date().toISOString(), `process ${r.pid} ended without finishing the run`, r.id);
    return died.map((r) => r.id);
  }

  finish(id: string, result: { status: Exclude<RunStatus, 'running' | 'died'>; error?: string; summary?: unknown }): void {
    this.db
      .prepare('UPDATE runs SET status = ?, finished_at = ?, error = ?, summary = ? WHERE id = ?')
      .run(result.status, new Date().toISOString(), result.error ?? null, result.summary === undefined ? null : JSON.stringify(result.summary), id);
  }

  /** By full id or a unique prefix (as `bkdr backup logs 7c01e2b4`). */
  get(idOrPrefix: string): RunRecord | undefined {
    const rows = this.db.prepare("SELECT * FROM runs WHERE id LIKE ? || '%' LIMIT 2").all(idOrPrefix) as RunRow[];
    if (rows.length > 1) throw new UsageError(`run id ${idOrPrefix} is ambiguous; give more characters`);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  list(filter: { limit?: number; kind?: string; status?: RunStatus } = {}): RunRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.kind) {
      where.push('kind = ?');
      args.push(filter.kind);
    }
    if (filter.status) {
      where.push('status = ?');
      args.push(filter.status);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 100) as RunRow[]).map(toRecord);
  }
}

export interface RunLogEntry {
  seq: number;
  time: string;
  level: string;
  message: string;
  fields: Record<string, unknown> | null;
}

export class RunLogsTable {
  constructor(private readonly db: Database.Database) {}

  append(runId: string, level: string, message: string, fields?: Record<string, unknown>): void {
    this.db
      .prepare('INSERT INTO run_logs (run_id, seq, time, level, message, fields) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_logs WHERE run_id = ?), ?, ?, ?, ?)')
      .run(runId, runId, new Date().toISOString(), level, message, fields === undefined ? null : JSON.stringify(fields));
  }

  /**
   * Whether the run was a --dry-run: it is recorded as a run of its kind too but backs
   * nothing up, and its first log line says so. Only that line is read, not the whole log.
   */
  wasDryRun(runId: string): boolean {
    const row = this.db.prepare('SELECT fields FROM run_logs WHERE run_id = ? ORDER BY seq LIMIT 1').get(runId) as { fields: string | null } | undefined;
    return row?.fields ? (JSON.parse(row.fields) as Record<string, unknown>)['dryRun'] === true : false;
  }

  forRun(runId: string): RunLogEntry[] {
    const rows = this.db.prepare('SELECT seq, time, level, message, fields FROM run_logs WHERE run_id = ? ORDER BY seq').all(runId) as (Omit<RunLogEntry, 'fields'> & { fields: string | null })[];
    return rows.map((r) => ({ ...r, fields: r.fields ? (JSON.parse(r.fields) as Record<string, unknown>) : null }));
  }
}
