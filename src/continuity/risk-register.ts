import { RISK_TREATMENTS, type NewRisk, type RiskFields, type RiskPatch, type RiskRecord, type RiskStatus } from '../catalog/risks-table.js';
import type { z } from 'zod';
import type { riskSchema } from '../config/dr-schema.js';
import { UsageError } from '../core/errors.js';
import type { ContinuityContext } from './continuity-context.js';
import { isRiskScore, residualRiskLevel, riskExposure, riskLevel, type RiskExposure, type RiskLevel, type RiskLevelName } from './risk-matrix.js';

type ConfigRisk = z.output<typeof riskSchema>;

/** One risk of the register (CONTINUITY.md "Risk register"), rated, wherever it is kept. */
export interface RegisterRisk extends RiskFields {
  id: string;
  /** `config`: read-only here, changed by editing the config; `catalog`: added through the CLI or the API. */
  source: 'config' | 'catalog';
  status: RiskStatus;
  /** Null while the risk is not scored. */
  level: RiskLevel | null;
  levelName: RiskLevelName | null;
  residualLevel: RiskLevel | null;
  residualLevelName: RiskLevelName | null;
  /** An open risk whose review date has passed. */
  reviewOverdue: boolean;
  closedAt: string | null;
  closeReason: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}

/** What a caller may set on a risk it adds; the id is generated (`R-<n>`) when left out. */
export type RiskInput = Partial<RiskFields> & { id?: string; title: string };

export interface RiskRegisterView {
  risks: RegisterRisk[];
  exposure: RiskExposure;
}

const DATE = /^\d{4}-\d{2}-\d{2}/;

/** A review date without a time is due by the end of that day (UTC), not its first second. */
function reviewDeadline(reviewBy: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(reviewBy) ? Date.parse(`${reviewBy}T23:59:59.999Z`) : Date.parse(reviewBy);
}

function rate(fields: RiskFields & { id: string; status: RiskStatus }, now: Date): Pick<RegisterRisk, 'level' | 'levelName' | 'residualLevel' | 'residualLevelName' | 'reviewOverdue'> {
  const assessed = fields.likelihood !== null && fields.impact !== null ? riskLevel(fields.likelihood, fields.impact) : null;
  const residual = residualRiskLevel(fields);
  return {
    level: assessed?.level ?? null,
    levelName: assessed?.name ?? null,
    residualLevel: residual?.level ?? null,
    residualLevelName: residual?.name ?? null,
    reviewOverdue: fields.status === 'open' && fields.reviewBy !== null && reviewDeadline(fields.reviewBy) < now.getTime(),
  };
}

function fromConfig(r: ConfigRisk, now: Date): RegisterRisk {
  const fields = {
    id: r.id,
    title: r.title,
    description: r.description ?? null,
    category: r.category ?? null,
    likelihood: r.likelihood ?? null,
    impact: r.impact ?? null,
    owner: r.owner ?? null,
    treatment: r.treatment ?? null,
    mitigations: r.mitigations ?? [],
    residualLikelihood: r.residualLikelihood ?? null,
    residualImpact: r.residualImpact ?? null,
    systems: r.systems ?? [],
    reviewBy: r.reviewBy ?? null,
    status: r.status ?? 'open',
  };
  return { ...fields, source: 'config', ...rate(fields, now), closedAt: null, closeReason: null, createdAt: null, updatedAt: null };
}

function fromCatalog(r: RiskRecord, now: Date): RegisterRisk {
  return { ...r, source: 'catalog', ...rate(r, now) };
}

/** Config risks first, in the config's order, then those added, oldest first. */
export function listRisks(ctx: ContinuityContext, filter: { status?: RiskStatus } = {}): RegisterRisk[] {
  const now = ctx.now();
  const all = [...(ctx.config.risks ?? []).map((r) => fromConfig(r, now)), ...ctx.catalog.risks.list().map((r) => fromCatalog(r, now))];
  return filter.status ? all.filter((r) => r.status === filter.status) : all;
}

export function getRisk(ctx: ContinuityContext, id: string): RegisterRisk | undefined {
  return listRisks(ctx).find((r) => r.id === id);
}

/** The register with the dashboard's exposure over its open risks. */
export function riskRegister(ctx: ContinuityContext): RiskRegisterView {
  const risks = listRisks(ctx);
  return { risks, exposure: riskExposure(risks) };
}

/** Checks what a caller set, once, at the edge; `null` (clearing a field) always passes. */
function validate(fields: Partial<RiskFields>): void {
  if (fields.title !== undefined && fields.title.trim() === '') throw new UsageError('a risk needs a title');
  for (const key of ['likelihood', 'impact', 'residualLikelihood', 'residualImpact'] as const) {
    const v = fields[key];
    if (v !== undefined && v !== null && !isRiskScore(v)) throw new UsageError(`${key} must be an integer from 1 to 5, not ${String(v)}`);
  }
  if (fields.treatment !== undefined && fields.treatment !== null && !RISK_TREATMENTS.includes(fields.treatment)) {
    throw new UsageError(`treatment must be one of ${RISK_TREATMENTS.join(', ')}, not ${String(fields.treatment as string)}`);
  }
  if (fields.reviewBy !== undefined && fields.reviewBy !== null && (!DATE.test(fields.reviewBy) || Number.isNaN(Date.parse(fields.reviewBy)))) {
    throw new UsageError(`the review date must be a date such as 2027-06-30, not ${fields.reviewBy}`);
  }
}

/** R-<n> after the highest such id in either source, so an id is never reused while its risk is in the register. */
function nextRiskId(ctx: ContinuityContext): string {
  let highest = 0;
  for (const r of listRisks(ctx)) {
    const n = /^R-(\d+)$/.exec(r.id)?.[1];
    if (n !== undefined) highest = Math.max(highest, Number(n));
  }
  return `R-${highest + 1}`;
}

function catalogRiskOrRefuse(ctx: ContinuityContext, id: string, verb: string): RiskRecord {
  if ((ctx.config.risks ?? []).some((r) => r.id === id)) throw new UsageError(`risk ${id} is defined in the config; edit the config to ${verb} it`);
  const risk = ctx.catalog.risks.get(id);
  if (!risk) throw new UsageError(`no risk ${id}`);
  return risk;
}

/** Only what was set, so the audit row says what the caller chose and nothing it left out. */
function setFields<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function addRisk(ctx: ContinuityContext, input: RiskInput): RegisterRisk {
  validate(input);
  const id = input.id ?? nextRiskId(ctx);
  if (id.trim() === '') throw new UsageError('a risk id cannot be empty');
  if (getRisk(ctx, id)) throw new UsageError(`risk ${id} already exists`);
  const { id: _given, ...fields } = setFields(input);
  const record = ctx.catalog.db
    .transaction(() => {
      const added = ctx.catalog.risks.add({ ...fields, id, title: input.title } as NewRisk, ctx.now());
      ctx.catalog.audit.append({ action: 'risk.add', target: id, payload: { fields } });
      return added;
    })
    .immediate();
  return fromCatalog(record, ctx.now());
}

export function updateRisk(ctx: ContinuityContext, id: string, patch: RiskPatch): RegisterRisk {
  validate(patch);
  const before = catalogRiskOrRefuse(ctx, id, 'change');
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const [key, to] of Object.entries(setFields(patch)) as [keyof RiskFields, unknown][]) {
    const from = before[key];
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[key] = { from, to };
  }
  if (Object.keys(changes).length === 0) return fromCatalog(before, ctx.now());
  const record = ctx.catalog.db
    .transaction(() => {
      const updated = ctx.catalog.risks.update(id, Object.fromEntries(Object.entries(changes).map(([k, c]) => [k, c.to])) as RiskPatch, ctx.now());
      ctx.catalog.audit.append({ action: 'risk.update', target: id, payload: { changes } });
      return updated;
    })
    .immediate();
  return fromCatalog(record, ctx.now());
}

export function closeRisk(ctx: ContinuityContext, id: string, reason?: string): RegisterRisk {
  catalogRiskOrRefuse(ctx, id, 'close');
  const record = ctx.catalog.db
    .transaction(() => {
      const closed = ctx.catalog.risks.close(id, reason ?? null, ctx.now());
      ctx.catalog.audit.append({ action: 'risk.close', target: id, payload: { changes: { status: { from: 'open', to: 'closed' } }, ...(reason !== undefined ? { reason } : {}) } });
      return closed;
    })
    .immediate();
  return fromCatalog(record, ctx.now());
}
