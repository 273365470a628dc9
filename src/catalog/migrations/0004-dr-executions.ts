import type { Migration } from './index.js';

/**
 * Disaster recovery and continuity records (DESIGN.md "Disaster recovery"): executions
 * and their steps, persisted as they change so `dr status` works from another shell and
 * `dr resume` continues a crashed execution; approvals that `dr approve` writes and the
 * executor waits on; detections and health samples from `dr watch`; incidents that
 * executions open. Times are ISO-8601 text, like the other tables.
 */
export const drExecutions: Migration = {
  version: 4,
  name: 'dr-executions',
  up: `
    CREATE TABLE dr_executions (
      id TEXT PRIMARY KEY,
      scenario_id TEXT NOT NULL,
      -- planned: a dry run; interrupted: its process died (reaped), \`dr resume\` takes it over.
      status TEXT NOT NULL CHECK (status IN ('planned', 'running', 'waiting-approval', 'succeeded', 'failed', 'rolled-back', 'interrupted')),
      dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
      -- Who or what started it: a user, a detector, the API, a DR test.
      triggered_by TEXT NOT NULL,
      reason TEXT,
      -- When a detector saw the failure: achieved RTO counts from here (else from started_at).
      detection_at TEXT,
      started_at TEXT NOT NULL,
      ended_at TEXT,
      -- The scenario's objectives when it was triggered (the config may change later) and what was achieved.
      rto_target_seconds REAL,
      rto_achieved_seconds REAL,
      rpo_target_seconds REAL,
      rpo_achieved_seconds REAL,
      -- When the failure happened (\`dr trigger --at\`, or the detection): achieved RPO is this minus the restored point in time.
      failure_at TEXT,
      -- The process running it, so a dead one shows as interrupted and a live one is not resumed twice.
      host TEXT,
      pid INTEGER,
      error TEXT,
      -- The resolved plan graph (JSON) as triggered: a resume runs the same plan even if the config changed.
      plan TEXT NOT NULL
    );
    CREATE INDEX dr_executions_started ON dr_executions (started_at);
    CREATE INDEX dr_executions_scenario ON dr_executions (scenario_id, started_at);
    CREATE INDEX dr_executions_active ON dr_executions (status) WHERE status IN ('running', 'waiting-approval');

    CREATE TABLE dr_steps (
      execution_id TEXT NOT NULL REFERENCES dr_executions (id) ON DELETE CASCADE,
      -- 'planId/stepId': step ids are unique only within their plan.
      step_id TEXT NOT NULL,
      plan_id TEXT NOT NULL,
      type TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'rolled-back', 'waiting-approval')),
      attempts INTEGER NOT NULL DEFAULT 0,
      started_at TEXT,
      ended_at TEXT,
      error TEXT,
      -- What the step produced (JSON), e.g. the restored snapshot's time for RPO, or what a rollback needs after a resume.
      output TEXT,
      -- Share of the execution's progress (a restore weighs its bytes).
      weight REAL NOT NULL DEFAULT 1,
      PRIMARY KEY (execution_id, step_id)
    );

    -- One decision per approval step; the executor polls for it.
    CREATE TABLE dr_approvals (
      execution_id TEXT NOT NULL,
      step_id TEXT NOT NULL,
      decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
      by TEXT NOT NULL,
      reason TEXT,
      at TEXT NOT NULL,
      PRIMARY KEY (execution_id, step_id),
      FOREIGN KEY (execution_id, step_id) REFERENCES dr_steps (execution_id, step_id) ON DELETE CASCADE
    );

    -- Availability evidence from health-check detectors (check is an SQL keyword, hence check_name).
    CREATE TABLE health_samples (
      check_name TEXT NOT NULL,
      at TEXT NOT NULL,
      ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
      latency_ms REAL,
      detail TEXT
    );
    CREATE INDEX health_samples_check_at ON health_samples (check_name, at);

    -- What detectors found, triggered or not (de-duplication, cooldown, detection time for RTO).
    CREATE TABLE dr_detections (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      scenario_id TEXT NOT NULL,
      trigger TEXT NOT NULL,
      at TEXT NOT NULL,
      -- The execution it started; null when suppressed (cooldown, an execution already active).
      execution_id TEXT REFERENCES dr_executions (id) ON DELETE SET NULL
    );
    CREATE INDEX dr_detections_scenario_at ON dr_detections (scenario_id, at);

    CREATE TABLE incidents (
      id TEXT PRIMARY KEY,
      opened_at TEXT NOT NULL,
      closed_at TEXT,
      title TEXT NOT NULL,
      severity TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
      execution_id TEXT REFERENCES dr_executions (id) ON DELETE SET NULL,
      scenario_id TEXT,
      -- Personal data affected: GDPR's 72-hour notification clock runs from opened_at.
      personal_data INTEGER NOT NULL DEFAULT 0 CHECK (personal_data IN (0, 1)),
      notes TEXT
    );
    CREATE INDEX incidents_opened ON incidents (opened_at);
  `,
};
