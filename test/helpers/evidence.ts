import type { BkdrConfig } from '../../src/config/schema.js';
import type { Evidence } from '../../src/continuity/compliance/evidence.js';

/** Evidence with nothing in it but the time: a control's test adds what its rule reads. */
export function emptyEvidence(now: Date, over: Partial<Evidence> = {}): Evidence {
  return {
    now,
    config: {} as BkdrConfig,
    systems: [],
    sources: [],
    destinations: [],
    scenarios: [],
    plans: new Map(),
    runs: [],
    backups: [],
    testRestores: [],
    executions: [],
    dryRuns: [],
    audit: { entries: [], chain: { ok: true, rows: 0 } },
    risks: [],
    incidents: [],
    bia: { systems: [] },
    findings: [],
    kpis: [],
    assessments: [],
    ...over,
  };
}
