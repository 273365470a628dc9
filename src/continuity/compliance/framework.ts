import type { Evidence } from './evidence.js';

export const FRAMEWORK_IDS = ['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR'] as const;
export type FrameworkId = (typeof FRAMEWORK_IDS)[number];

export type Severity = 'critical' | 'high' | 'medium' | 'low';

/** Windows (days) and percentages a control reads; defaults in the framework, overrides in `complianceSettings.<framework>`. */
export type FrameworkSettings = Readonly<Record<string, number>>;

/** What one control concluded, with the evidence values it read so an auditor can recompute it. */
export interface ControlResult {
  status: 'pass' | 'fail' | 'not-applicable';
  /** The values the rule was applied to (counts, times, names). */
  evidence: Record<string, unknown>;
  /** One sentence: why it passed, failed, or does not apply. */
  detail: string;
}

/**
 * One control of a framework as data plus a pure rule (CONTINUITY.md "Controls
 * evaluated from bkdr's own records"). The rule reads only the evidence and the
 * settings: the same records give the same result, every time.
 */
export interface ControlDefinition {
  id: string;
  /** Paraphrased, never copied from the standard. */
  title: string;
  /** The area it belongs to, for `--scope` (backup, recovery, testing, protection, governance, incident). */
  area: 'backup' | 'recovery' | 'testing' | 'protection' | 'governance' | 'incident';
  /** The finding's severity when it fails. */
  severity: Severity;
  /** One sentence: what to do when it fails. */
  remediation: string;
  weight?: number;
  evaluate(e: Evidence, settings: FrameworkSettings): ControlResult;
}

export interface Framework {
  id: FrameworkId;
  name: string;
  /** What the catalog follows (edition, clauses). */
  basis: string;
  defaults: FrameworkSettings;
  controls: readonly ControlDefinition[];
}

export const pass = (detail: string, evidence: Record<string, unknown> = {}): ControlResult => ({ status: 'pass', detail, evidence });
export const fail = (detail: string, evidence: Record<string, unknown> = {}): ControlResult => ({ status: 'fail', detail, evidence });
export const notApplicable = (detail: string, evidence: Record<string, unknown> = {}): ControlResult => ({ status: 'not-applicable', detail, evidence });

export const DAY_MS = 86_400_000;

/** A finding's due date from its severity (CONTINUITY.md: critical 7 d, high 30 d, medium 90 d); low: 180 d. */
export const FINDING_DUE_DAYS: Record<Severity, number> = { critical: 7, high: 30, medium: 90, low: 180 };
