import type { Migration } from './index.js';

// Shipped: never edit. Add a new numbered migration instead.
export const initial: Migration = {
  version: 1,
  name: 'initial',
  up: `
    CREATE TABLE destinations (
      name TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      repository_id TEXT,
      last_seen TEXT
    );

    CREATE TABLE runs (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      source TEXT,
      destinations TEXT NOT NULL DEFAULT '[]',
      strategy TEXT,
      status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'interrupted')),
      started_at TEXT NOT NULL,
      finished_at TEXT,
      error TEXT,
      summary TEXT
    );
    CREATE INDEX runs_started ON runs (started_at);

    CREATE TABLE run_logs (
      run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      time TEXT NOT NULL,
      level TEXT NOT NULL,
      message TEXT NOT NULL,
      fields TEXT,
      PRIMARY KEY (run_id, seq)
    );

    CREATE TABLE backups (
      id TEXT NOT NULL,
      destination TEXT NOT NULL,
      repository_id TEXT NOT NULL,
      source TEXT NOT NULL,
      strategy TEXT NOT NULL CHECK (strategy IN ('full', 'incremental', 'differential', 'continuous')),
      parent_id TEXT,
      time TEXT NOT NULL,
      hostname TEXT NOT NULL,
      paths TEXT NOT NULL,
      tags TEXT NOT NULL,
      files INTEGER NOT NULL,
      dirs INTEGER NOT NULL,
      bytes INTEGER NOT NULL,
      added_bytes INTEGER NOT NULL,
      stored_bytes INTEGER NOT NULL,
      summary TEXT NOT NULL,
      run_id TEXT,
      PRIMARY KEY (destination, id)
    );
    CREATE INDEX backups_source_time ON backups (source, time);
    CREATE INDEX backups_time ON backups (time);

    CREATE TABLE audit_log (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      time TEXT NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      target TEXT NOT NULL,
      payload TEXT NOT NULL,
      prev_hash TEXT NOT NULL,
      hash TEXT NOT NULL
    );
    -- The head remembers the last row, so deleting the newest rows is caught too.
    CREATE TABLE audit_head (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      seq INTEGER NOT NULL,
      hash TEXT NOT NULL
    );
    CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log BEGIN
      INSERT INTO audit_head (id, seq, hash) VALUES (1, NEW.seq, NEW.hash)
        ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
    END;
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
      SELECT RAISE(ABORT, 'audit_log is append-only');
    END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
      SELECT RAISE(ABORT, 'audit_log is append-only');
    END;
    CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head BEGIN
      SELECT RAISE(ABORT, 'audit_head is append-only');
    END;
  `,
};
