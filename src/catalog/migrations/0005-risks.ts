import type { Migration } from './index.js';

/**
 * Risks added through the CLI or the API (CONTINUITY.md "Risk register"). Risks in the
 * config are not copied here: the config stays their only source, and the register
 * joins both. Lists are JSON text; times ISO-8601, like the other tables.
 */
export const risks: Migration = {
  version: 5,
  name: 'risks',
  up: `
    CREATE TABLE risks (
      id TEXT PRIMARY KEY,
      title TEXT NOT NULL,
      description TEXT,
      category TEXT,
      -- Nullable: an unscored risk is kept, and fails ISO 22301 8.2.3 until it is scored.
      likelihood INTEGER CHECK (likelihood BETWEEN 1 AND 5),
      impact INTEGER CHECK (impact BETWEEN 1 AND 5),
      owner TEXT,
      treatment TEXT CHECK (treatment IN ('mitigate', 'transfer', 'avoid', 'accept')),
      mitigations TEXT NOT NULL DEFAULT '[]',
      residual_likelihood INTEGER CHECK (residual_likelihood BETWEEN 1 AND 5),
      residual_impact INTEGER CHECK (residual_impact BETWEEN 1 AND 5),
      systems TEXT NOT NULL DEFAULT '[]',
      review_by TEXT,
      status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
      closed_at TEXT,
      close_reason TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE INDEX risks_status ON risks (status);
  `,
};
