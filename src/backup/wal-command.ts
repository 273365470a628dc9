import { walClientPath } from '../core/package-root.js';

/** A word for PostgreSQL's shell (archive_command and restore_command run through sh -c). */
export const shellQuote = (s: string) => `"${s.replace(/(["\\$`])/g, '\\$1')}"`;

/**
 * The command PostgreSQL runs per WAL file: native bkdr-wal with --async, this installation's
 * node for the worker it starts, the config, and the spool (a path relative to the data
 * directory stays relative: PostgreSQL runs it from there). `env` goes before it.
 */
export function walCommand(op: 'push' | 'fetch', opts: { configPath: string; source: string; spool: string; env?: string }): string {
  const args = op === 'push' ? '%p' : '%f "%p"';
  return `${opts.env ?? ''}BKDR_NODE=${shellQuote(process.execPath)} ${shellQuote(walClientPath())} -c ${shellQuote(opts.configPath)} -q wal ${op} --source ${opts.source} --async --spool ${shellQuote(opts.spool)} ${args}`;
}
