import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { OperationError, UsageError } from '../core/errors.js';
import { rowByIdPrefix } from './id-prefix.js';

export type IncidentSeverity = 'critical' | 'high' | 'medium' | 'low';

/** GDPR art. 33: a breach of personal data is notified within 72 hours of becoming aware of it. */
export const GDPR_NOTIFICATION_HOURS = 72;

/**
 * Where an incident stands against GDPR art. 33(1). A late notification stays 'notified-late'
 * even with a reason recorded: the reason is shown beside it, the fact is not rewritten.
 */
export type GdprNotificationStatus = 'notified' | 'notified-late' | 'overdue' | 'open' | 'delayed-with-reason';

export interface GdprClock {
  /** Opened (becoming aware) + 72 h. */
  dueAt: string;
  notifiedAt: string | null;
  delayReason: string | null;
  status: GdprNotificationStatus;
  /** Until dueAt at `now`, to 0.1 h; negative once past. Null once notified: the clock has stopped. */
  hoursLeft: number | null;
}

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
  openedBy: string | null;
  notifiedAt: string | null;
  notificationDelayReason: string | null;
  facts: string | null;
  effects: string | null;
  remedialAction: string | null;
  /** How it ended; every close since migration 6 has one. */
  summary: string | null;
  /** Personal-data incidents only; computed at the `now` the record was read with. */
  gdpr: GdprClock | null;
}

/** What `update` may change: the GDPR art. 33 record, written as it becomes known. */
export interface IncidentPatch {
  notifiedAt?: Date;
  notificationDelayReason?: string;
  facts?: string;
  effects?: string;
  remedialAction?: string;
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
  opened_by: string | null;
  notified_at: string | null;
  notification_delay_reason: string | null;
  facts: string | null;
  effects: string | null;
  remedial_action: string | null;
  summary: string | null;
}

const HOUR_MS = 3600_000;

/** The 72-hour clock of one personal-data incident at `now`. */
export function gdprClock(openedAt: string, notifiedAt: string | null, delayReason: string | null, now: Date): GdprClock {
  const due = Date.parse(openedAt) + GDPR_NOTIFICATION_HOURS * HOUR_MS;
  const base = { dueAt: new Date(due).toISOString(), notifiedAt, delayReason };
  if (notifiedAt !== null) return { ...base, status: Date.parse(notifiedAt) <= due ? 'notified' : 'notified-late', hoursLeft: null };
  const hoursLeft = Math.round(((due - now.getTime()) / HOUR_MS) * 10) / 10;
  // A recorded reason is what art. 33(1) accepts in place of a notification in time.
  const status: GdprNotificationStatus = delayReason !== null ? 'delayed-with-reason' : now.getTime() > due ? 'overdue' : 'open';
  return { ...base, status, hoursLeft };
}

const toRecord = (r: IncidentRow, now: Date): IncidentRecord => ({
  id: r.id,
  openedAt: r.opened_at,
  closedAt: r.closed_at,
  title: r.title,
  severity: r.severity,
  executionId: r.execution_id,
  scenarioId: r.scenario_id,
  personalData: r.personal_data === 1,
  notificationDueAt: r.personal_data === 1 ? new Date(Date.parse(r.opened_at) + GDPR_NOTIFICATION_HOURS * HOUR_MS).toISOString() : null,
  notes: r.notes,
  openedBy: r.opened_by,
  notifiedAt: r.notified_at,
  notificationDelayReason: r.notification_delay_reason,
  facts: r.facts,
  effects: r.effects,
  remedialAction: r.remedial_action,
  summary: r.summary,
  gdpr: r.personal_data === 1 ? gdprClock(r.opened_at, r.notified_at, r.notification_delay_reason, now) : null,
});

const patchColumns = { notifiedAt: 'notified_at', notificationDelayReason: 'notification_delay_reason', facts: 'facts', effects: 'effects', remedialAction: 'remedial_action' } as const;

/** Incidents (`bc incident`); every DR execution opens one. */
export class IncidentsTable {
  constructor(private readonly db: Database.Database) {}

  open(i: {
    title: string;
    severity: IncidentSeverity;
    executionId?: string;
    scenarioId?: string;
    personalData?: boolean;
    notes?: string;
    openedAt?: Date;
    openedBy?: string;
    facts?: string;
    effects?: string;
    remedialAction?: string;
  }): string {
    const id = randomBytes(8).toString('hex');
    this.db
      .prepare(
        `INSERT INTO incidents (id, opened_at, title, severity, execution_id, scenario_id, personal_data, notes, opened_by, facts, effects, remedial_action)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        (i.openedAt ?? new Date()).toISOString(),
        i.title,
        i.severity,
        i.executionId ?? null,
        i.scenarioId ?? null,
        i.personalData ? 1 : 0,
        i.notes ?? null,
        i.openedBy ?? 'manual',
        i.facts ?? null,
        i.effects ?? null,
        i.remedialAction ?? null,
      );
    return id;
  }

  /** Writes the given fields, open or closed: a notification or the remedial action often comes after recovery. */
  update(idOrPrefix: string, patch: IncidentPatch, now: Date = new Date()): IncidentRecord {
    const incident = this.#existing(idOrPrefix);
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [key, column] of Object.entries(patchColumns) as [keyof IncidentPatch, string][]) {
      const value = patch[key];
      if (value === undefined) continue;
      sets.push(`${column} = ?`);
      args.push(value instanceof Date ? value.toISOString() : value);
    }
    if (sets.length === 0) throw new UsageError(`nothing to update on incident ${incident.id}`);
    this.db.prepare(`UPDATE incidents SET ${sets.join(', ')} WHERE id = ?`).run(...args, incident.id);
    return this.get(incident.id, now)!;
  }

  /** Closes an open incident with a summary of how it ended (required: the record is the evidence). */
  close(idOrPrefix: string, opts: { summary?: string; at?: Date }, now: Date = new Date()): IncidentRecord {
    const summary = (opts.summary ?? '').trim();
    if (!summary) throw new UsageError('closing an incident needs a summary of how it ended');
    const incident = this.#existing(idOrPrefix);
    if (incident.closedAt) throw new UsageError(`incident ${incident.id} was already closed at ${incident.closedAt}`);
    const changed = this.db.prepare('UPDATE incidents SET closed_at = ?, summary = ? WHERE id = ? AND closed_at IS NULL').run((opts.at ?? now).toISOString(), summary, incident.id).changes;
    if (changed === 0) throw new OperationError(`incident ${incident.id} was closed meanwhile`);
    return this.get(incident.id, now)!;
  }

  /** By full id or a unique prefix; the GDPR clock as at `now`. */
  get(idOrPrefix: string, now: Date = new Date()): IncidentRecord | undefined {
    const row = rowByIdPrefix<IncidentRow>(this.db, 'incidents', idOrPrefix, 'incident');
    return row ? toRecord(row, now) : undefined;
  }

  /** Newest first. `open`: only open (true) or only closed (false) ones. GDPR clocks as at `now`. */
  list(filter: { open?: boolean; executionId?: string; since?: Date; limit?: number; now?: Date } = {}): IncidentRecord[] {
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
    const now = filter.now ?? new Date();
    return (this.db.prepare(sql).all(...args, filter.limit ?? 100) as IncidentRow[]).map((r) => toRecord(r, now));
  }

  #existing(idOrPrefix: string): IncidentRecord {
    const incident = this.get(idOrPrefix);
    if (!incident) throw new UsageError(`no incident ${idOrPrefix}`);
    return incident;
  }
}
