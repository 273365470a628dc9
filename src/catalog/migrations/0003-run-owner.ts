import type { Migration } from './index.js';

/**
 * Runs record the host and process that run them, so a run whose process died
 * (kill -9, a crash, a machine that lost power) can be told from one still going,
 * and a `died` status for those. SQLite cannot change a CHECK constraint in place:
 * the table is rebuilt (SQLite's documented twelve steps), with foreign keys off so
 * dropping the old table does not cascade into run_logs.
 */
export const runOwner: Migration = {
  version: 3,
  name: 'run-owner',
  foreignKeysOff: true,
  up: `
    CREATE TABLE runs_new (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      source TEXT,
      destinations TEXT NOT NULL DEFAULT '[]',
      strategy TEXT,
      status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'interrupted', 'died')),
      started_at TEXT NOT NULL,
      finished_at TEXT,
      error TEXT,
      summary TEXT,
      host TEXT,
      pid INTEGER
    );
    INSERT INTO runs_new (id, kind, source, destinations, strategy, status, started_at, finished_at, error, summary)
      SELECT id, kind, source, destinations, strategy, status, started_at, finished_at, error, summary FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_new RENAME TO runs;
    CREATE INDEX runs_started ON runs (started_at);
    CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
  `,
};
