import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * CLI.md: the config's catalog.path, else BKDR_CATALOG, else $XDG_DATA_HOME/bkdr/catalog.db.
 * A relative catalog.path resolves against the config's folder, as relative source and
 * destination paths do; a relative BKDR_CATALOG against the current directory, as any
 * path given on the command line.
 */
export function resolveCatalogPath(configPath?: string, env: NodeJS.ProcessEnv = process.env, configDir = process.cwd()): string {
  if (configPath) return resolve(configDir, configPath);
  if (env['BKDR_CATALOG']) return resolve(env['BKDR_CATALOG']);
  const dataHome = env['XDG_DATA_HOME'] || join(homedir(), '.local', 'share');
  return join(dataHome, 'bkdr', 'catalog.db');
}
