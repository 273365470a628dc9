import { dirname } from 'node:path';
import { BackupManager } from '../backup/backup-manager.js';
import { passwordFileFromEnv, resolvePassword } from '../runtime/password.js';
import { openCatalog } from '../catalog/catalog.js';
import { resolveCatalogPath } from '../catalog/catalog-path.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../core/errors.js';

export interface CreateBackupManagerOptions {
  /** Config file; else BKDR_CONFIG, else the cosmiconfig search from `cwd`. */
  configPath?: string;
  cwd?: string;
  /** The repository password; else the chain of CLI.md (BKDR_PASSWORD, files, commands). */
  password?: string;
}

/**
 * The library entry point to the backup service: the same code the CLI runs.
 *
 *   const manager = await createBackupManager({ configPath: './backup.config.ts' });
 *   const run = await manager.createBackup(['files'], { type: 'incremental' }, (e) => console.log(e));
 */
export async function createBackupManager(opts: CreateBackupManagerOptions = {}): Promise<BackupManager> {
  const loaded = await loadConfig({
    ...(opts.configPath !== undefined ? { configPath: opts.configPath } : {}),
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    required: true,
  });
  if (!loaded) throw new ConfigError('', 'no config found');
  const catalog = openCatalog(resolveCatalogPath(loaded.config.catalog?.path, process.env, dirname(loaded.filepath)));
  return new BackupManager({
    config: loaded.config,
    configPath: loaded.filepath,
    catalog,
    // The password chain is resolved here, once, not inside the service (a library caller brings its own).
    passwordFile: passwordFileFromEnv(),
    password: () => (opts.password !== undefined ? Promise.resolve(opts.password) : resolvePassword(loaded.config.encryption, undefined)),
  });
}
