import type { Migration } from './index.js';

/**
 * What GDPR art. 33 asks of a breach record (CONTINUITY.md): when the authority was
 * notified, or why not within 72 hours (33(1)); the facts, effects and remedial action
 * (33(5)). Plus how the incident ended and who opened it. Columns only: existing
 * incidents keep their rows, with these empty.
 */
export const incidentRecords: Migration = {
  version: 6,
  name: 'incident-records',
  up: `
    ALTER TABLE incidents ADD COLUMN notified_at TEXT;
    ALTER TABLE incidents ADD COLUMN notification_delay_reason TEXT;
    ALTER TABLE incidents ADD COLUMN facts TEXT;
    ALTER TABLE incidents ADD COLUMN effects TEXT;
    ALTER TABLE incidents ADD COLUMN remedial_action TEXT;
    -- The closing summary; required to close one.
    ALTER TABLE incidents ADD COLUMN summary TEXT;
    -- 'manual' from the CLI; a DR execution's trigger (user, detector, API) for the ones it opens.
    ALTER TABLE incidents ADD COLUMN opened_by TEXT;
  `,
};
