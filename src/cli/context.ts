import { dirname } from 'node:path';
import type { Command } from 'commander';
import type { Catalog } from '../catalog/catalog.js';
import type { LoadedConfig } from '../config/load.js';
import { ConfigError, UsageError } from '../core/errors.js';
import { cliMessage } from './hints.js';
import { createLogger, logLevelFromEnv, type Logger } from '../core/logger.js';

/** The global options of CLI.md, as commander parsed them. */
export interface GlobalOptions {
  config?: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  yes: boolean;
  color: boolean;
}

/**
 * What every command module gets: parsed global options, a stderr logger, and the
 * output helpers that keep stdout for results only. Commands build services from it.
 */
export class CliContext {
  #config: Promise<LoadedConfig | undefined> | undefined;
  #catalog: Catalog | undefined;

  constructor(readonly program: Command) {}

  /** The config from --config, BKDR_CONFIG or the cosmiconfig search; exit 2 when there is none. */
  async config(): Promise<LoadedConfig> {
    const loaded = await this.configIfAny();
    if (!loaded) throw new ConfigError('', 'no config found (searched backup.config.*, .bkdrrc*, package.json#bkdr); run `bkdr init` or pass --config');
    return loaded;
  }

  /** The config if one is found; a config that exists but is invalid still fails. */
  configIfAny(): Promise<LoadedConfig | undefined> {
    this.#config ??= import('../config/load.js').then(({ loadConfig }) => loadConfig({ ...(this.options.config !== undefined ? { configPath: this.options.config } : {}), required: false }));
    return this.#config;
  }

  /** The SQLite catalog at the path CLI.md resolves (config, BKDR_CATALOG, XDG default). */
  async catalog(): Promise<Catalog> {
    if (this.#catalog) return this.#catalog;
    const { openCatalog } = await import('../catalog/catalog.js');
    this.#catalog = openCatalog(await this.catalogPath());
    return this.#catalog;
  }

  async catalogPath(): Promise<string> {
    const loaded = await this.configIfAny();
    const { resolveCatalogPath } = await import('../catalog/catalog-path.js');
    return resolveCatalogPath(loaded?.config.catalog?.path, process.env, loaded ? dirname(loaded.filepath) : process.cwd());
  }

  /**
   * For commands that read backups (list, show, status, restore, verify): the catalog,
   * or when it cannot be used, one in memory filled from the repositories, the source
   * of truth, so a damaged catalog never stands between an operator and a restore.
   * What the command records (its run, its audit row) is then not kept, and stderr says so.
   */
  async catalogOrRepositoriesOnly(): Promise<Catalog> {
    try {
      return await this.catalog();
    } catch (err) {
      const { CatalogUnusableError, openCatalog } = await import('../catalog/catalog.js');
      if (!(err instanceof CatalogUnusableError)) throw err;
      this.logger.warn(`${cliMessage(err)}; meanwhile working from the repositories alone, and this command is not recorded in the catalog`);
      // Keeps the real path: bkdr's own files are still those of the catalog that is there.
      this.#catalog = { ...openCatalog(':memory:'), path: err.catalogPath };
      return this.#catalog;
    }
  }

  /**
   * For `catalog rebuild`: the catalog, or, when it cannot be used or fails SQLite's
   * consistency check, a new one in its place with the damaged file kept aside.
   */
  async catalogReplacingDamaged(): Promise<{ catalog: Catalog; keptAside?: { path: string; reason: string } }> {
    const { CatalogUnusableError, catalogIntact, keepCatalogAside, openCatalog } = await import('../catalog/catalog.js');
    const path = await this.catalogPath();
    let reason: string;
    try {
      const catalog = await this.catalog();
      const check = catalogIntact(catalog);
      if (check.ok) return { catalog };
      reason = check.problem;
      this.close();
    } catch (err) {
      if (!(err instanceof CatalogUnusableError)) throw err;
      reason = err.reason;
    }
    const keptAt = keepCatalogAside(path);
    this.#catalog = openCatalog(path, { replacing: { keptAt, reason } });
    return { catalog: this.#catalog, keptAside: { path: keptAt, reason } };
  }

  /** Appends an audit row for a state-changing command (secrets must not be in `payload`). */
  async audit(action: string, target: string, payload: Record<string, unknown> = {}): Promise<void> {
    (await this.catalog()).audit.append({ action, target, payload });
  }

  close(): void {
    this.#catalog?.close();
    this.#catalog = undefined;
  }

  get options(): GlobalOptions {
    const o = this.program.opts<Partial<GlobalOptions>>();
    return {
      ...(o.config !== undefined ? { config: o.config } : {}),
      json: o.json ?? false,
      quiet: o.quiet ?? false,
      verbose: (o.verbose ?? false) || logLevelFromEnv() === 'debug',
      yes: o.yes ?? false,
      color: o.color !== false && !process.env['NO_COLOR'],
    };
  }

  get logger(): Logger {
    const o = this.options;
    return createLogger(o.verbose ? 'debug' : o.quiet ? 'error' : (logLevelFromEnv() ?? 'info'));
  }

  /** stdout and stderr both a terminal: spinners and prompts are allowed. */
  get interactive(): boolean {
    return Boolean(process.stdin.isTTY && process.stderr.isTTY);
  }

  /** Spinners and colour only on a terminal, never with NO_COLOR/--no-color or --json. */
  get fancy(): boolean {
    return Boolean(process.stderr.isTTY) && this.options.color && !this.options.json;
  }

  /** Results go to stdout: JSON with --json, else the human rendering. */
  render<T>(result: T, human: (r: T) => string): void {
    if (this.options.json) this.printJson(result);
    else {
      const text = human(result);
      if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /**
   * Confirmation for destructive commands: --yes answers, a TTY asks, and without a
   * TTY the command fails with exit 2 (CLI.md) rather than guess.
   */
  async confirmDestructive(question: string): Promise<void> {
    if (this.options.yes) return;
    if (!this.interactive) throw new UsageError(`${question} — refusing without a terminal; pass --yes`);
    const { confirm } = await import('@inquirer/prompts');
    if (!(await confirm({ message: question, default: false }))) throw new UsageError('cancelled');
  }
}
