import type Database from 'better-sqlite3';

export interface DrDetectionRecord {
  id: number;
  scenarioId: string;
  /** The trigger's one-line name. */
  trigger: string;
  at: string;
  /** The execution it started; null when it only was recorded or was suppressed. */
  executionId: string | null;
}

interface DetectionRow {
  id: number;
  scenario_id: string;
  trigger: string;
  at: string;
  execution_id: string | null;
}

/** What `dr watch` detected, started or not: the evidence for cooldowns and for the detection time RTO counts from. */
export class DrDetectionsTable {
  constructor(private readonly db: Database.Database) {}

  /** Returns the detection's id. */
  record(d: { scenarioId: string; trigger: string; at: Date; executionId?: string }): number {
    const result = this.db.prepare('INSERT INTO dr_detections (scenario_id, trigger, at, execution_id) VALUES (?, ?, ?, ?)').run(d.scenarioId, d.trigger, d.at.toISOString(), d.executionId ?? null);
    return Number(result.lastInsertRowid);
  }

  /** The execution a detection started, known only once the execution exists. */
  attach(id: number, executionId: string): void {
    this.db.prepare('UPDATE dr_detections SET execution_id = ? WHERE id = ?').run(executionId, id);
  }

  /** Newest first. */
  list(filter: { scenarioId?: string; since?: Date } = {}): DrDetectionRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.scenarioId !== undefined) {
      where.push('scenario_id = ?');
      args.push(filter.scenarioId);
    }
    if (filter.since !== undefined) {
      where.push('at >= ?');
      args.push(filter.since.toISOString());
    }
    const rows = this.db.prepare(`SELECT * FROM dr_detections ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC`).all(...args) as DetectionRow[];
    return rows.map((r) => ({ id: r.id, scenarioId: r.scenario_id, trigger: r.trigger, at: r.at, executionId: r.execution_id }));
  }
}
