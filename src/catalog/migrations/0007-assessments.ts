import type { Migration } from './index.js';

/**
 * Compliance assessments (DESIGN.md "Business continuity"): each with its score and every
 * control's status and the evidence values it read, so an auditor sees what was
 * concluded from what; findings opened by failed controls, resolved by a later
 * assessment in which the control passes.
 */
export const assessments: Migration = {
  version: 7,
  name: 'assessments',
  up: `
    CREATE TABLE assessments (
      id TEXT PRIMARY KEY,
      framework TEXT NOT NULL,
      assessor TEXT NOT NULL,
      -- JSON list of areas; empty: every control.
      scope TEXT NOT NULL,
      at TEXT NOT NULL,
      overall_compliance REAL NOT NULL,
      -- JSON list of { id, title, area, status, evidence, detail }.
      controls TEXT NOT NULL
    );
    CREATE INDEX assessments_framework_at ON assessments (framework, at);

    CREATE TABLE findings (
      id TEXT PRIMARY KEY,
      assessment_id TEXT NOT NULL REFERENCES assessments (id) ON DELETE CASCADE,
      framework TEXT NOT NULL,
      control_id TEXT NOT NULL,
      severity TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
      title TEXT NOT NULL,
      detail TEXT NOT NULL,
      remediation TEXT NOT NULL,
      due_date TEXT NOT NULL,
      opened_at TEXT NOT NULL,
      resolved_at TEXT,
      resolved_by TEXT
    );
    -- One open finding per control: a control failing again keeps its finding (and its due date).
    CREATE UNIQUE INDEX findings_open_control ON findings (framework, control_id) WHERE resolved_at IS NULL;
  `,
};
