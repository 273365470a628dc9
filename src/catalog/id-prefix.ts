import type Database from 'better-sqlite3';
import { UsageError } from '../core/errors.js';

/**
 * The row of `table` whose id is `idOrPrefix` or starts with it, as the CLI takes ids
 * (`bkdr dr status 7c01e2b4`); a prefix that matches two rows is refused naming `noun`.
 * substr, not LIKE: an id typed with `%` or `_` matches only itself.
 */
export function rowByIdPrefix<Row>(db: Database.Database, table: string, idOrPrefix: string, noun: string): Row | undefined {
  const rows = db.prepare(`SELECT * FROM ${table} WHERE substr(id, 1, length(@p)) = @p LIMIT 2`).all({ p: idOrPrefix }) as Row[];
  if (rows.length > 1) throw new UsageError(`${noun} id ${idOrPrefix} is ambiguous; give more characters`);
  return rows[0];
}
