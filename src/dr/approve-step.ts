import type { DrApprovalRecord } from '../catalog/dr-executions-table.js';
import type { DrContext } from './dr-context.js';

/**
 * `dr approve|reject`: writes the decision the waiting execution polls for, from any
 * shell or the API, and records it in the audit trail. A rejection fails the step; its
 * `onFailure` decides what the execution does next.
 */
export function decideApproval(
  ctx: Pick<DrContext, 'catalog'>,
  decision: 'approve' | 'reject',
  executionId: string,
  opts: { stepId?: string | undefined; by: string; reason?: string | undefined },
): DrApprovalRecord {
  const record = ctx.catalog.drExecutions.recordApproval({
    executionId,
    decision,
    by: opts.by,
    ...(opts.stepId !== undefined ? { stepId: opts.stepId } : {}),
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
  });
  ctx.catalog.audit.append({ action: decision === 'approve' ? 'dr.approve' : 'dr.reject', target: record.executionId, payload: { step: record.stepId, by: record.by, reason: record.reason } });
  return record;
}
