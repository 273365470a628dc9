import { isBkdrError, type Setting, withRemedies } from '../core/errors.js';

/**
 * The CLI's words for each setting an error names as its remedy: the message below the
 * CLI says `allow overwriting to restore into it`, the CLI `pass --force to restore into it`.
 */
const FLAGS: Record<Setting, string> = {
  force: 'pass --force',
  target: 'pass --target <dir>',
  targetDatabase: 'pass --target-db <name>',
  pipe: 'pass --pipe',
  archive: 'pass --archive <file>',
  lockWait: 'retry later or pass --lock-wait',
  source: 'pass --source <name>',
  config: 'run `bkdr init` or pass --config',
  newPasswordFile: 'pass --new-password-file <file>',
  catalogRebuild: 'run `bkdr catalog rebuild`',
};

/** An error as the CLI says it: the statement with the CLI's own hint; a damaged catalog met at a query says what to do. */
export function cliMessage(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return `the catalog is damaged (${(err as Error).message}); ${FLAGS.catalogRebuild} to keep it aside and rebuild it from the repositories`;
  if (isBkdrError(err)) return withRemedies(err.statement, err.remedies, FLAGS);
  return err instanceof Error ? err.message : String(err);
}
