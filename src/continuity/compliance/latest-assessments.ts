import type { AssessmentRecord } from '../../catalog/assessments-table.js';
import type { ContinuityContext } from '../continuity-context.js';

/** No LIMIT: SQLite reads a negative limit as none. */
const ALL = -1;

/**
 * The latest assessment of each framework at `now`, by framework name: what the
 * compliance_score KPI, the dashboard, the compliance report and /metrics all show. When
 * the config lists `complianceFrameworks`, only those count: a framework the organisation
 * no longer answers for does not lift or sink its score.
 */
export function latestAssessments(ctx: Pick<ContinuityContext, 'catalog' | 'config'>, now: Date): Map<string, AssessmentRecord> {
  const wanted = ctx.config.complianceFrameworks;
  const latest = new Map<string, AssessmentRecord>();
  // Newest first: the first of each framework is its latest.
  for (const a of ctx.catalog.assessments.list({ until: now, limit: ALL })) {
    if (wanted && !wanted.includes(a.framework as (typeof wanted)[number])) continue;
    if (!latest.has(a.framework)) latest.set(a.framework, a);
  }
  return latest;
}
