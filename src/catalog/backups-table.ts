import type Database from 'better-sqlite3';
import { UsageError } from '../core/errors.js';

/** A backup as the catalog caches it; the repository's snapshot is the truth. */
export interface BackupRecord {
  id: string;
  destination: string;
  repositoryId: string;
  source: string;
  strategy: 'full' | 'incremental' | 'differential' | 'continuous';
  parentId: string | null;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
  files: number;
  dirs: number;
  bytes: number;
  addedBytes: number;
  storedBytes: number;
  summary: unknown;
  runId: string | null;
}

interface BackupRow {
  id: string;
  destination: string;
  repository_id: string;
  source: string;
  strategy: BackupRecord['strategy'];
  parent_id: string | null;
  time: string;
  hostname: string;
  paths: string;
  tags: string;
  files: number;
  dirs: number;
  bytes: number;
  added_bytes: number;
  stored_bytes: number;
  summary: string;
  run_id: string | null;
}

const toRecord = (r: BackupRow): BackupRecord => ({
  id: r.id,
  destination: r.destination,
  repositoryId: r.repository_id,
  source: r.source,
  strategy: r.strategy,
  parentId: r.parent_id,
  time: r.time,
  hostname: r.hostname,
  paths: JSON.parse(r.paths) as string[],
  tags: JSON.parse(r.tags) as string[],
  files: r.files,
  dirs: r.dirs,
  bytes: r.bytes,
  addedBytes: r.added_bytes,
  storedBytes: r.stored_bytes,
  summary: JSON.parse(r.summary) as unknown,
  runId: r.run_id,
});

export class BackupsTable {
  constructor(private readonly db: Database.Database) {}

  upsert(b: BackupRecord): void {
    this.db
      .prepare(
        `INSERT INTO backups (id, destination, repository_id, source, strategy, parent_id, time, hostname, paths, tags, files, dirs, bytes, added_bytes, stored_bytes, summary, run_id)
         VALUES (@id, @destination, @repositoryId, @source, @strategy, @parentId, @time, @hostname, @paths, @tags, @files, @dirs, @bytes, @addedBytes, @storedBytes, @summary, @runId)
         ON CONFLICT (destination, id) DO UPDATE SET run_id = COALESCE(excluded.run_id, backups.run_id)`,
      )
      .run({ ...b, paths: JSON.stringify(b.paths), tags: JSON.stringify(b.tags), summary: JSON.stringify(b.summary) });
  }

  /** Newest first. */
  list(filter: { source?: string; destination?: string; since?: Date; until?: Date } = {}): BackupRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.source) {
      where.push('source = ?');
      args.push(filter.source);
    }
    if (filter.destination) {
      where.push('destination = ?');
      args.push(filter.destination);
    }
    if (filter.since) {
      where.push('time >= ?');
      args.push(filter.since.toISOString());
    }
    if (filter.until) {
      where.push('time <= ?');
      args.push(filter.until.toISOString());
    }
    const sql = `SELECT * FROM backups ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id`;
    return (this.db.prepare(sql).all(...args) as BackupRow[]).map(toRecord);
  }

  get(idOrPrefix: string, destination?: string): BackupRecord | undefined {
    const rows = this.db
      .prepare(`SELECT * FROM backups WHERE id LIKE ? || '%' ${destination ? 'AND destination = ?' : ''} ORDER BY time DESC`)
      .all(...(destination ? [idOrPrefix, destination] : [idOrPrefix])) as BackupRow[];
    if (new Set(rows.map((r) => r.id)).size > 1) throw new UsageError(`backup id ${idOrPrefix} is ambiguous; give more characters`);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  delete(destination: string, id: string): void {
    this.db.prepare('DELETE FROM backups WHERE destination = ? AND id = ?').run(destination, id);
  }
}
