import { initial } from './0001-initial.js';
import { packChecks } from './0002-pack-checks.js';

export interface Migration {
  version: number;
  name: string;
  up: string;
}

/** Applied in order, each in its own transaction. Never edit a migration that has shipped: add one. */
export const migrations: Migration[] = [initial, packChecks];
