import type { AssessedControl, AssessmentRecord, FindingRecord } from '../../catalog/assessments-table.js';
import { UsageError } from '../../core/errors.js';
import type { ContinuityContext } from '../continuity-context.js';
import { gatherEvidence } from './evidence.js';
import { DAY_MS, FINDING_DUE_DAYS, type ControlDefinition, type Framework, type FrameworkSettings } from './framework.js';
import { FRAMEWORKS, frameworkById } from './frameworks/index.js';

/** CLI.md's `compliance assess --json`: the stored assessment with its findings. */
export interface AssessmentResult extends AssessmentRecord {
  findings: { controlId: string; severity: string; title: string; remediation: string; dueDate: string; detail: string; id: string }[];
  /** Findings of earlier assessments this one found resolved (their control passes now). */
  resolvedFindings: FindingRecord[];
}

const AREAS: ControlDefinition['area'][] = ['backup', 'recovery', 'testing', 'protection', 'governance', 'incident'];

export function requireFramework(id: string): Framework {
  const framework = frameworkById(id);
  if (!framework) throw new UsageError(`no framework ${id}; available: ${FRAMEWORKS.map((f) => f.id).join(', ')}`);
  return framework;
}

/** The framework's defaults with the config's `complianceSettings.<framework>` over them. */
export function settingsFor(ctx: Pick<ContinuityContext, 'config'>, framework: Framework): FrameworkSettings {
  return { ...framework.defaults, ...(ctx.config.complianceSettings?.[framework.id] ?? {}) };
}

/**
 * `compliance assess` (the brief's conductComplianceAssessment): every control of the
 * framework (or of the areas in `scope`) evaluated against the evidence read once;
 * score = passed weight ÷ applicable weight × 100; each failed control opens a
 * finding (severity, remediation, due date by severity) unless one is open already.
 * Stored, and appended to the audit log.
 */
export function conductAssessment(ctx: ContinuityContext, frameworkId: string, opts: { assessor: string; scope?: string[] | undefined }): AssessmentResult {
  const framework = requireFramework(frameworkId);
  const scope = opts.scope ?? [];
  const unknown = scope.filter((a) => !AREAS.includes(a as ControlDefinition['area']));
  if (unknown.length) throw new UsageError(`unknown scope ${unknown.join(', ')}; areas: ${AREAS.join(', ')}`);
  const controls = scope.length ? framework.controls.filter((c) => scope.includes(c.area)) : framework.controls;
  const evidence = gatherEvidence(ctx);
  const settings = settingsFor(ctx, framework);
  const now = evidence.now;

  const assessed: (AssessedControl & { definition: ControlDefinition })[] = controls.map((c) => {
    let result;
    try {
      result = c.evaluate(evidence, settings);
    } catch (err) {
      // A rule that cannot read its evidence is a failure to show, not a pass to assume.
      result = { status: 'fail' as const, evidence: {}, detail: `could not be evaluated: ${err instanceof Error ? err.message : String(err)}` };
    }
    return { id: c.id, title: c.title, area: c.area, ...result, definition: c };
  });
  const applicable = assessed.filter((c) => c.status !== 'not-applicable');
  const weight = (c: { definition: ControlDefinition }) => c.definition.weight ?? 1;
  const total = applicable.reduce((s, c) => s + weight(c), 0);
  const passed = applicable.filter((c) => c.status === 'pass').reduce((s, c) => s + weight(c), 0);
  const overallCompliance = total === 0 ? 100 : Math.round((passed / total) * 1000) / 10;

  const failed = assessed
    .filter((c) => c.status === 'fail')
    .map((c) => ({
      controlId: c.id,
      severity: c.definition.severity,
      title: `${framework.id} ${c.id}: ${c.title}`,
      detail: c.detail,
      remediation: c.definition.remediation,
      dueDate: new Date(now.getTime() + FINDING_DUE_DAYS[c.definition.severity] * DAY_MS).toISOString().slice(0, 10),
    }));
  const stored = ctx.catalog.assessments.record(
    { framework: framework.id, assessor: opts.assessor, scope, at: now.toISOString(), overallCompliance, controls: assessed.map(({ definition: _d, ...c }) => c) },
    failed,
  );
  ctx.catalog.audit.append({
    action: 'compliance.assess',
    target: framework.id,
    payload: { assessmentId: stored.assessment.id, assessor: opts.assessor, scope, overallCompliance, failed: failed.map((f) => f.controlId), resolved: stored.resolved.map((f) => f.controlId) },
  });
  const findings = [...stored.opened, ...stored.kept].map((f) => ({
    id: f.id,
    controlId: f.controlId,
    severity: f.severity,
    title: f.title,
    remediation: f.remediation,
    dueDate: f.dueDate,
    detail: f.detail,
  }));
  return { ...stored.assessment, findings, resolvedFindings: stored.resolved };
}

export function listFrameworks(): { id: string; name: string; basis: string; controls: number; areas: string[] }[] {
  return FRAMEWORKS.map((f) => ({ id: f.id, name: f.name, basis: f.basis, controls: f.controls.length, areas: [...new Set(f.controls.map((c) => c.area))] }));
}
