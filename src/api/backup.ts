import { dirname, join, resolve } from 'node:path';
import { BackupManager } from '../backup/backup-manager.js';
import { passwordFileFromEnv, resolvePassword } from '../runtime/password.js';
import { openCatalog } from '../catalog/catalog.js';
import { resolveCatalogPath } from '../catalog/catalog-path.js';
import { loadConfig } from '../config/load.js';
import type { BkdrConfig, BkdrConfigInput } from '../config/schema.js';
import { validateConfig } from '../config/validate.js';
import { ConfigError } from '../core/errors.js';

export interface CreateBackupManagerOptions {
  /** Config file; else BKDR_CONFIG, else the cosmiconfig search from `cwd`. Ignored when `config` is given. */
  configPath?: string;
  /** The config itself, in the shape `defineConfig` takes; validated as a file's would be. */
  config?: BkdrConfigInput;
  /** Where the search starts, and what relative paths of an object `config` resolve against (default: the current directory). */
  cwd?: string;
  /** The repository password; else the chain of CLI.md (BKDR_PASSWORD, files, commands). */
  password?: string;
}

/** What every factory takes: a config file's path, a config object, or the options. */
export type ConfigArgument = string | BkdrConfigInput | CreateBackupManagerOptions;

/** A validated config and the path its relative paths resolve against. */
export interface ResolvedConfig {
  config: BkdrConfig;
  /**
   * The file it came from; for an object config a name in `cwd` that no file has, so
   * that its folder (what relative paths resolve against) is `cwd`.
   */
  configPath: string;
}

/** The keys of the options object; an object with any other key is a config (the brief passes its `backupConfig` straight in). */
const OPTION_KEYS: ReadonlySet<string> = new Set(['configPath', 'config', 'cwd', 'password', 'backupManager', 'approvalPollMs']);

export function toOptions(arg: ConfigArgument | undefined): CreateBackupManagerOptions {
  if (arg === undefined) return {};
  if (typeof arg === 'string') return { configPath: arg };
  // A config missing `destinations` is still a config, and fails validation saying so, rather than loading whatever file the search finds.
  if ('destinations' in arg || Object.keys(arg).some((k) => !OPTION_KEYS.has(k))) return { config: arg as BkdrConfigInput };
  return arg as CreateBackupManagerOptions;
}

/** The config as the CLI would see it: the object given (validated), else the file given or found. */
export async function resolveConfig(opts: CreateBackupManagerOptions): Promise<ResolvedConfig> {
  const cwd = resolve(opts.cwd ?? process.cwd());
  if (opts.config !== undefined) {
    const configPath = join(cwd, '(config object)');
    return { config: validateConfig(opts.config), configPath };
  }
  const loaded = await loadConfig({ ...(opts.configPath !== undefined ? { configPath: opts.configPath } : {}), cwd, required: true });
  if (!loaded) throw new ConfigError('', 'no config found');
  return { config: loaded.config, configPath: loaded.filepath };
}

/** The backup service over an already resolved config: opens its catalog, wires the password chain. */
export function backupManagerFor(resolved: ResolvedConfig, password: string | undefined): BackupManager {
  const { config, configPath } = resolved;
  const catalog = openCatalog(resolveCatalogPath(config.catalog?.path, process.env, dirname(configPath)));
  return new BackupManager({
    config,
    configPath,
    catalog,
    // The password chain is resolved here, once, not inside the service (a library caller brings its own).
    passwordFile: passwordFileFromEnv(),
    password: () => (password !== undefined ? Promise.resolve(password) : resolvePassword(config.encryption, undefined)),
  });
}

/**
 * The library entry point to the backup service: the same code the CLI runs. It takes a
 * config object, a config file's path, or the options; with nothing it loads the config
 * as the CLI does (BKDR_CONFIG, else a search from the current directory).
 *
 *   const manager = await createBackupManager(backupConfig);
 *   const run = await manager.createBackup(['files'], { type: 'incremental' }, (e) => console.log(e));
 */
export async function createBackupManager(arg?: ConfigArgument): Promise<BackupManager> {
  const opts = toOptions(arg);
  return backupManagerFor(await resolveConfig(opts), opts.password);
}
