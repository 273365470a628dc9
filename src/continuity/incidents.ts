import type { IncidentRecord, IncidentSeverity } from '../catalog/incidents-table.js';
import { UsageError } from '../core/errors.js';
import { parseTimeExpression } from '../core/time-expression.js';
import type { ContinuityContext } from './continuity-context.js';

/**
 * Incidents as GDPR art. 33 wants them kept (CONTINUITY.md): the authority notified within
 * 72 hours of becoming aware of a personal-data breach, or a reason for the delay recorded
 * (33(1)); facts, effects and remedial action documented (33(5)). DR executions open their
 * own incidents; these use cases are how people open, document and close them.
 *
 * Audit entries name what changed, never the free text: the audit trail cannot be edited
 * or erased, and a breach description may itself hold personal data.
 */

const severities: readonly IncidentSeverity[] = ['critical', 'high', 'medium', 'low'];

export function listIncidents(ctx: ContinuityContext, filter: { open?: boolean | undefined; since?: string | Date | undefined } = {}): IncidentRecord[] {
  const now = ctx.now();
  const since = filter.since === undefined ? undefined : filter.since instanceof Date ? filter.since : parseTimeExpression(filter.since, now);
  return ctx.catalog.incidents.list({ ...(filter.open !== undefined ? { open: filter.open } : {}), ...(since ? { since } : {}), now, limit: 1000 });
}

export function openIncident(
  ctx: ContinuityContext,
  input: { title: string; severity: string; personalData?: boolean | undefined; systems?: string[] | undefined; facts?: string | undefined },
): IncidentRecord {
  const title = input.title.trim();
  if (!title) throw new UsageError('an incident needs a title');
  const severity = severities.find((s) => s === input.severity);
  if (!severity) throw new UsageError(`severity must be ${severities.join(', ')}, not ${input.severity}`);
  const configured = ctx.config.systems ?? [];
  const systems = input.systems ?? [];
  const unknown = systems.filter((name) => !configured.some((s) => s.name === name));
  if (unknown.length > 0) throw new UsageError(`no system ${unknown.join(', ')} in the config`);
  // A system marked as holding personal data starts the GDPR clock even if the opener did not say so.
  const personalData = input.personalData === true || systems.some((name) => configured.some((s) => s.name === name && s.personalData === true));
  const now = ctx.now();
  const id = ctx.catalog.incidents.open({
    title,
    severity,
    personalData,
    openedAt: now,
    openedBy: 'manual',
    ...(systems.length > 0 ? { notes: `systems: ${systems.join(', ')}` } : {}),
    ...(input.facts !== undefined ? { facts: input.facts } : {}),
  });
  ctx.catalog.audit.append({ action: 'incident.open', target: id, payload: { severity, personalData, systems } });
  return ctx.catalog.incidents.get(id, now)!;
}

/**
 * Records that the authority was notified (`at`, default now), and/or why notification is
 * late. A reason alone, with no `at`, records the delay and leaves the incident unnotified:
 * art. 33(1) accepts a late notification when the reasons for the delay accompany it.
 */
export function recordNotification(ctx: ContinuityContext, idOrPrefix: string, input: { at?: string | Date | undefined; delayReason?: string | undefined } = {}): IncidentRecord {
  const now = ctx.now();
  const incident = existing(ctx, idOrPrefix, now);
  if (!incident.personalData) throw new UsageError(`incident ${incident.id} does not affect personal data: no notification to the authority is due`);
  const delayReason = input.delayReason?.trim();
  if (input.delayReason !== undefined && !delayReason) throw new UsageError('a delay reason cannot be empty');
  const notifying = input.at !== undefined || delayReason === undefined;
  let at: Date | undefined;
  if (notifying) {
    if (incident.notifiedAt !== null) throw new UsageError(`incident ${incident.id} was already notified at ${incident.notifiedAt}`);
    at = input.at === undefined ? now : input.at instanceof Date ? input.at : parseTimeExpression(input.at, now);
    if (at.getTime() > now.getTime()) throw new UsageError(`notification time ${at.toISOString()} is in the future`);
    if (at.getTime() < Date.parse(incident.openedAt)) throw new UsageError(`notification time ${at.toISOString()} is before the incident was opened (${incident.openedAt})`);
  }
  const updated = ctx.catalog.incidents.update(incident.id, { ...(at ? { notifiedAt: at } : {}), ...(delayReason !== undefined ? { notificationDelayReason: delayReason } : {}) }, now);
  ctx.catalog.audit.append({
    action: 'incident.notify',
    target: incident.id,
    payload: { notifiedAt: updated.notifiedAt, delayReasonRecorded: delayReason !== undefined, status: updated.gdpr?.status ?? null },
  });
  return updated;
}

export function documentIncident(ctx: ContinuityContext, idOrPrefix: string, input: { facts?: string | undefined; effects?: string | undefined; remedialAction?: string | undefined }): IncidentRecord {
  const now = ctx.now();
  const incident = existing(ctx, idOrPrefix, now);
  const patch = {
    ...(input.facts !== undefined ? { facts: input.facts } : {}),
    ...(input.effects !== undefined ? { effects: input.effects } : {}),
    ...(input.remedialAction !== undefined ? { remedialAction: input.remedialAction } : {}),
  };
  if (Object.keys(patch).length === 0) throw new UsageError('nothing to record: give facts, effects or the remedial action');
  const updated = ctx.catalog.incidents.update(incident.id, patch, now);
  ctx.catalog.audit.append({ action: 'incident.update', target: incident.id, payload: { fields: Object.keys(patch) } });
  return updated;
}

export function closeIncident(ctx: ContinuityContext, idOrPrefix: string, input: { summary?: string | undefined }): IncidentRecord {
  const now = ctx.now();
  const closed = ctx.catalog.incidents.close(idOrPrefix, { ...(input.summary !== undefined ? { summary: input.summary } : {}), at: now }, now);
  ctx.catalog.audit.append({ action: 'incident.close', target: closed.id, payload: { executionId: closed.executionId, gdprStatus: closed.gdpr?.status ?? null } });
  return closed;
}

function existing(ctx: ContinuityContext, idOrPrefix: string, now: Date): IncidentRecord {
  const incident = ctx.catalog.incidents.get(idOrPrefix, now);
  if (!incident) throw new UsageError(`no incident ${idOrPrefix}`);
  return incident;
}
