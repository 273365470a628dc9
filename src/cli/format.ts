import { createRequire } from 'node:module';
import type Table from 'cli-table3';

/** Loaded when the first table is made: most runs print none (cron, -q), and loading it took ~10 ms of every start. */
let TableClass: typeof Table | undefined;
const requireLazily = createRequire(import.meta.url);

/** Human renderings shared by the command modules. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

// Lives in src/core: unit files and schedule descriptions (src/scheduling) write durations too.
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
