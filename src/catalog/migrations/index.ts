import { initial } from './0001-initial.js';
import { packChecks } from './0002-pack-checks.js';
import { runOwner } from './0003-run-owner.js';
import { drExecutions } from './0004-dr-executions.js';
import { risks } from './0005-risks.js';
import { incidentRecords } from './0006-incident-records.js';
import { assessments } from './0007-assessments.js';

export interface Migration {
  version: number;
  name: string;
  up: string;
  /** Rebuilds a table others reference: applied with foreign keys off, then checked (SQLite cannot switch them inside a transaction). */
  foreignKeysOff?: boolean;
}

/** Applied in order, each in its own transaction. Never edit a migration that has shipped: add one. */
export const migrations: Migration[] = [initial, packChecks, runOwner, drExecutions, risks, incidentRecords, assessments];
