import { createRequire } from 'node:module';
import type Table from 'cli-table3';

/** Loaded when the first table is made: most runs print none (cron, -q), and loading it took ~10 ms of every start. */
let TableClass: typeof Table | undefined;
const requireLazily = createRequire(import.meta.url);

/** Human renderings shared by the command modules. */
// Live in src/core: unit files, schedule descriptions and DR preflights write sizes and durations too.
export { formatBytes } from '../core/bytes.js';
export { formatDuration } from '../core/duration.js';

export function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Colour only for a terminal, never with NO_COLOR or --no-color (main sets the flag). */
export function colorEnabled(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'] && !process.argv.includes('--no-color');
}

/** A cli-table3 table that stays plain text when output goes to a file, a pipe or cron mail. */
export function createTable(head: string[]): Table.Table {
  TableClass ??= requireLazily('cli-table3') as typeof Table;
  return colorEnabled() ? new TableClass({ head }) : new TableClass({ head, style: { head: [], border: [] } });
}
