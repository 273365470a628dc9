import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** CLI.md: the config's catalog.path, else BKDR_CATALOG, else $XDG_DATA_HOME/bkdr/catalog.db. */
export function resolveCatalogPath(configPath?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (configPath) return resolve(configPath);
  if (env['BKDR_CATALOG']) return resolve(env['BKDR_CATALOG']);
  const dataHome = env['XDG_DATA_HOME'] || join(homedir(), '.local', 'share');
  return join(dataHome, 'bkdr', 'catalog.db');
}
