import type { Migration } from './index.js';

/** When each pack was last read and checked by `backup verify --read-data`, so samples rotate. */
export const packChecks: Migration = {
  version: 2,
  name: 'pack-checks',
  up: `
    CREATE TABLE pack_checks (
      repository_id TEXT NOT NULL,
      pack_id TEXT NOT NULL,
      checked_at TEXT NOT NULL,
      ok INTEGER NOT NULL,
      PRIMARY KEY (repository_id, pack_id)
    );
  `,
};
