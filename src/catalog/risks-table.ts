import type Database from 'better-sqlite3';
import { OperationError, UsageError } from '../core/errors.js';

export type RiskTreatment = 'mitigate' | 'transfer' | 'avoid' | 'accept';
export const RISK_TREATMENTS: readonly RiskTreatment[] = ['mitigate', 'transfer', 'avoid', 'accept'];
export type RiskStatus = 'open' | 'closed';

/** What describes a risk; `null` is "not set". */
export interface RiskFields {
  title: string;
  description: string | null;
  category: string | null;
  likelihood: number | null;
  impact: number | null;
  owner: string | null;
  treatment: RiskTreatment | null;
  mitigations: string[];
  residualLikelihood: number | null;
  residualImpact: number | null;
  systems: string[];
  /** A date ('2027-06-30') or a time, as given. */
  reviewBy: string | null;
}

export interface RiskRecord extends RiskFields {
  id: string;
  status: RiskStatus;
  closedAt: string | null;
  closeReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A new risk: the title is required, every other field may be left out. */
export type NewRisk = { id: string; title: string } & Partial<Omit<RiskFields, 'title'>>;
/** Fields left out stay as they are; `null` clears one. */
export type RiskPatch = Partial<RiskFields>;

interface RiskRow {
  id: string;
  title: string;
  description: string | null;
  category: string | null;
  likelihood: number | null;
  impact: number | null;
  owner: string | null;
  treatment: RiskTreatment | null;
  mitigations: string;
  residual_likelihood: number | null;
  residual_impact: number | null;
  systems: string;
  review_by: string | null;
  status: RiskStatus;
  closed_at: string | null;
  close_reason: string | null;
  created_at: string;
  updated_at: string;
}

const COLUMNS: Record<keyof RiskFields, keyof RiskRow> = {
  title: 'title',
  description: 'description',
  category: 'category',
  likelihood: 'likelihood',
  impact: 'impact',
  owner: 'owner',
  treatment: 'treatment',
  mitigations: 'mitigations',
  residualLikelihood: 'residual_likelihood',
  residualImpact: 'residual_impact',
  systems: 'systems',
  reviewBy: 'review_by',
};

const LISTS = new Set<keyof RiskFields>(['mitigations', 'systems']);

const toRecord = (r: RiskRow): RiskRecord => ({
  id: r.id,
  title: r.title,
  description: r.description,
  category: r.category,
  likelihood: r.likelihood,
  impact: r.impact,
  owner: r.owner,
  treatment: r.treatment,
  mitigations: JSON.parse(r.mitigations) as string[],
  residualLikelihood: r.residual_likelihood,
  residualImpact: r.residual_impact,
  systems: JSON.parse(r.systems) as string[],
  reviewBy: r.review_by,
  status: r.status,
  closedAt: r.closed_at,
  closeReason: r.close_reason,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

function columnValue(field: keyof RiskFields, value: RiskFields[keyof RiskFields] | undefined): unknown {
  if (LISTS.has(field)) return JSON.stringify(value ?? []);
  return value ?? null;
}

/** Risks of the register added through the CLI or the API; those of the config are never stored here. */
export class RisksTable {
  constructor(private readonly db: Database.Database) {}

  add(risk: NewRisk, at: Date = new Date()): RiskRecord {
    const fields = Object.keys(COLUMNS) as (keyof RiskFields)[];
    const columns = ['id', ...fields.map((f) => COLUMNS[f]), 'status', 'created_at', 'updated_at'];
    const values = [risk.id, ...fields.map((f) => columnValue(f, risk[f])), 'open', at.toISOString(), at.toISOString()];
    try {
      this.db.prepare(`INSERT INTO risks (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`).run(...values);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new UsageError(`risk ${risk.id} already exists`, { cause: err });
      throw err;
    }
    return this.get(risk.id)!;
  }

  update(id: string, patch: RiskPatch, at: Date = new Date()): RiskRecord {
    const existing = this.get(id);
    if (!existing) throw new UsageError(`no risk ${id}`);
    const fields = (Object.keys(patch) as (keyof RiskFields)[]).filter((f) => f in COLUMNS && patch[f] !== undefined);
    if (fields.length === 0) return existing;
    const sets = fields.map((f) => `${COLUMNS[f]} = ?`);
    this.db.prepare(`UPDATE risks SET ${sets.join(', ')}, updated_at = ? WHERE id = ?`).run(...fields.map((f) => columnValue(f, patch[f])), at.toISOString(), id);
    return this.get(id)!;
  }

  close(id: string, reason: string | null, at: Date = new Date()): RiskRecord {
    const existing = this.get(id);
    if (!existing) throw new UsageError(`no risk ${id}`);
    if (existing.status === 'closed') throw new UsageError(`risk ${id} was already closed at ${existing.closedAt}`);
    const changed = this.db
      .prepare("UPDATE risks SET status = 'closed', closed_at = @at, close_reason = @reason, updated_at = @at WHERE id = @id AND status = 'open'")
      .run({ id, at: at.toISOString(), reason }).changes;
    if (changed === 0) throw new OperationError(`risk ${id} was closed meanwhile`);
    return this.get(id)!;
  }

  get(id: string): RiskRecord | undefined {
    const row = this.db.prepare('SELECT * FROM risks WHERE id = ?').get(id) as RiskRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** In the order they were added. */
  list(filter: { status?: RiskStatus } = {}): RiskRecord[] {
    const rows = (
      filter.status ? this.db.prepare('SELECT * FROM risks WHERE status = ? ORDER BY created_at, rowid').all(filter.status) : this.db.prepare('SELECT * FROM risks ORDER BY created_at, rowid').all()
    ) as RiskRow[];
    return rows.map(toRecord);
  }
}
