import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { rowByIdPrefix } from './id-prefix.js';

export type FindingSeverity = 'critical' | 'high' | 'medium' | 'low';

export interface AssessedControl {
  id: string;
  title: string;
  area: string;
  status: 'pass' | 'fail' | 'not-applicable';
  evidence: Record<string, unknown>;
  detail: string;
}

export interface AssessmentRecord {
  id: string;
  framework: string;
  assessor: string;
  scope: string[];
  at: string;
  overallCompliance: number;
  controls: AssessedControl[];
}

export interface FindingRecord {
  id: string;
  assessmentId: string;
  framework: string;
  controlId: string;
  severity: FindingSeverity;
  title: string;
  detail: string;
  remediation: string;
  dueDate: string;
  openedAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
}

interface AssessmentRow {
  id: string;
  framework: string;
  assessor: string;
  scope: string;
  at: string;
  overall_compliance: number;
  controls: string;
}

interface FindingRow {
  id: string;
  assessment_id: string;
  framework: string;
  control_id: string;
  severity: FindingSeverity;
  title: string;
  detail: string;
  remediation: string;
  due_date: string;
  opened_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
}

const toAssessment = (r: AssessmentRow): AssessmentRecord => ({
  id: r.id,
  framework: r.framework,
  assessor: r.assessor,
  scope: JSON.parse(r.scope) as string[],
  at: r.at,
  overallCompliance: r.overall_compliance,
  controls: JSON.parse(r.controls) as AssessedControl[],
});

const toFinding = (r: FindingRow): FindingRecord => ({
  id: r.id,
  assessmentId: r.assessment_id,
  framework: r.framework,
  controlId: r.control_id,
  severity: r.severity,
  title: r.title,
  detail: r.detail,
  remediation: r.remediation,
  dueDate: r.due_date,
  openedAt: r.opened_at,
  resolvedAt: r.resolved_at,
  resolvedBy: r.resolved_by,
});

/** Compliance assessments and the findings they open and resolve. */
export class AssessmentsTable {
  constructor(private readonly db: Database.Database) {}

  /**
   * Stores an assessment and settles its findings in one transaction: a failed control
   * opens a finding (or keeps the open one, with its due date), a control that passes
   * or no longer applies resolves its open finding.
   */
  record(
    a: Omit<AssessmentRecord, 'id'>,
    failed: { controlId: string; severity: FindingSeverity; title: string; detail: string; remediation: string; dueDate: string }[],
  ): { assessment: AssessmentRecord; opened: FindingRecord[]; kept: FindingRecord[]; resolved: FindingRecord[] } {
    return this.db
      .transaction(() => {
        const id = randomBytes(8).toString('hex');
        this.db
          .prepare('INSERT INTO assessments (id, framework, assessor, scope, at, overall_compliance, controls) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(id, a.framework, a.assessor, JSON.stringify(a.scope), a.at, a.overallCompliance, JSON.stringify(a.controls));
        const open = this.findings({ framework: a.framework, open: true });
        const failedIds = new Set(failed.map((f) => f.controlId));
        const assessedIds = new Set(a.controls.map((c) => c.id));
        const resolved: FindingRecord[] = [];
        for (const f of open) {
          if (failedIds.has(f.controlId) || !assessedIds.has(f.controlId)) continue;
          this.db.prepare('UPDATE findings SET resolved_at = ?, resolved_by = ? WHERE id = ?').run(a.at, id, f.id);
          resolved.push({ ...f, resolvedAt: a.at, resolvedBy: id });
        }
        const opened: FindingRecord[] = [];
        const kept: FindingRecord[] = [];
        for (const f of failed) {
          const existing = open.find((o) => o.controlId === f.controlId);
          if (existing) {
            kept.push(existing);
            continue;
          }
          const row: FindingRow = {
            id: randomBytes(6).toString('hex'),
            assessment_id: id,
            framework: a.framework,
            control_id: f.controlId,
            severity: f.severity,
            title: f.title,
            detail: f.detail,
            remediation: f.remediation,
            due_date: f.dueDate,
            opened_at: a.at,
            resolved_at: null,
            resolved_by: null,
          };
          this.db
            .prepare(
              'INSERT INTO findings (id, assessment_id, framework, control_id, severity, title, detail, remediation, due_date, opened_at) VALUES (@id, @assessment_id, @framework, @control_id, @severity, @title, @detail, @remediation, @due_date, @opened_at)',
            )
            .run(row);
          opened.push(toFinding(row));
        }
        return { assessment: this.get(id)!, opened, kept, resolved };
      })
      .immediate();
  }

  get(idOrPrefix: string): AssessmentRecord | undefined {
    const row = rowByIdPrefix<AssessmentRow>(this.db, 'assessments', idOrPrefix, 'assessment');
    return row ? toAssessment(row) : undefined;
  }

  /** Newest first. */
  list(filter: { framework?: string; since?: Date; until?: Date; limit?: number } = {}): AssessmentRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.framework) {
      where.push('framework = ?');
      args.push(filter.framework);
    }
    if (filter.since) {
      where.push('at >= ?');
      args.push(filter.since.toISOString());
    }
    if (filter.until) {
      where.push('at <= ?');
      args.push(filter.until.toISOString());
    }
    const sql = `SELECT * FROM assessments ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as AssessmentRow[]).map(toAssessment);
  }

  /** Oldest due first. */
  findings(filter: { framework?: string; open?: boolean } = {}): FindingRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.framework) {
      where.push('framework = ?');
      args.push(filter.framework);
    }
    if (filter.open !== undefined) where.push(filter.open ? 'resolved_at IS NULL' : 'resolved_at IS NOT NULL');
    const sql = `SELECT * FROM findings ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY due_date, rowid`;
    return (this.db.prepare(sql).all(...args) as FindingRow[]).map(toFinding);
  }
}
