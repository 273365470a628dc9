import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { OperationError, UsageError } from '../core/errors.js';

export type IncidentSeverity = 'critical' | 'high' | 'medium' | 'low';

/** GDPR art. 33: a breach of personal data is notified within 72 hours of becoming aware of it. */
export const GDPR_NOTIFICATION_HOURS = 72;

export interface IncidentRecord {
  id: string;
  openedAt: string;
  closedAt: string | null;
  title: string;
  severity: IncidentSeverity;
  executionId: string | null;
  scenarioId: string | null;
  personalData: boolean;
  /** When personal data is affected: opened + 72 h. */
  notificationDueAt: string | null;
  notes: string | null;
}

interface IncidentRow {
  id: string;
  opened_at: string;
  closed_at: string | null;
  title: string;
  severity: IncidentSeverity;
  execution_id: string | null;
  scenario_id: string | null;
  personal_data: number;
  notes: string | null;
}

const toRecord = (r: IncidentRow): IncidentRecord => ({
  id: r.id,
  openedAt: r.opened_at,
  closedAt: r.closed_at,
  title: r.title,
  severity: r.severity,
  executionId: r.execution_id,
  scenarioId: r.scenario_id,
  personalData: r.personal_data === 1,
  notificationDueAt: r.personal_data === 1 ? new Date(Date.parse(r.opened_at) + GDPR_NOTIFICATION_HOURS * 3600_000).toISOString() : null,
  notes: r.notes,
});

/** Incidents (`bc incident`); every DR execution opens one. */
export class IncidentsTable {
  constructor(private readonly db: Database.Database) {}

  open(i: { title: string; severity: IncidentSeverity; executionId?: string; scenarioId?: string; personalData?: boolean; notes?: string; openedAt?: Date }): string {
    const id = randomBytes(8).toString('hex');
    this.db
      .prepare('INSERT INTO incidents (id, opened_at, title, severity, execution_id, scenario_id, personal_data, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, (i.openedAt ?? new Date()).toISOString(), i.title, i.severity, i.executionId ?? null, i.scenarioId ?? null, i.personalData ? 1 : 0, i.notes ?? null);
    return id;
  }

  /** Closes an open incident; `notes` are appended to its notes. */
  close(idOrPrefix: string, opts: { at?: Date; notes?: string } = {}): IncidentRecord {
    const incident = this.get(idOrPrefix);
    if (!incident) throw new UsageError(`no incident ${idOrPrefix}`);
    if (incident.closedAt) throw new UsageError(`incident ${incident.id} was already closed at ${incident.closedAt}`);
    const notes = [incident.notes, opts.notes].filter((n) => n).join('\n') || null;
    const changed = this.db.prepare('UPDATE incidents SET closed_at = ?, notes = ? WHERE id = ? AND closed_at IS NULL').run((opts.at ?? new Date()).toISOString(), notes, incident.id).changes;
    if (changed === 0) throw new OperationError(`incident ${incident.id} was closed meanwhile`);
    return this.get(incident.id)!;
  }

  /** By full id or a unique prefix. */
  get(idOrPrefix: string): IncidentRecord | undefined {
    const rows = this.db.prepare('SELECT * FROM incidents WHERE substr(id, 1, length(@p)) = @p LIMIT 2').all({ p: idOrPrefix }) as IncidentRow[];
    if (rows.length > 1) throw new UsageError(`incident id ${idOrPrefix} is ambiguous; give more characters`);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Newest first. `open`: only open (true) or only closed (false) ones. */
  list(filter: { open?: boolean; executionId?: string; since?: Date; limit?: number } = {}): IncidentRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.open !== undefined) where.push(filter.open ? 'closed_at IS NULL' : 'closed_at IS NOT NULL');
    if (filter.executionId !== undefined) {
      where.push('execution_id = ?');
      args.push(filter.executionId);
    }
    if (filter.since) {
      where.push('opened_at >= ?');
      args.push(filter.since.toISOString());
    }
    const sql = `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 100) as IncidentRow[]).map(toRecord);
  }
}
