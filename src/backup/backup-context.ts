import type { Catalog } from '../catalog/catalog.js';
import type { BkdrConfig } from '../config/schema.js';
import { UsageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { type Destination, openDestinations } from '../runtime/destinations.js';
import { RepositorySession } from '../runtime/repository-session.js';
import type { RunStores } from '../runtime/run-recorder.js';
import { type OwnFiles, ownFilesOf } from './own-files.js';

export type BackupType = 'full' | 'incremental' | 'differential';

/**
 * What every backup use case (one file per operation) is given: the config, the
 * catalog, and a way to open its own repository session. Built once by the facade.
 */
export interface BackupContext {
  readonly config: BkdrConfig;
  /** Relative paths in the config resolve against this folder. */
  readonly configDir: string;
  readonly configPath: string;
  readonly catalog: Catalog;
  readonly runStores: RunStores;
  readonly logger: Logger;
  /** Milliseconds since the epoch: progress rates and ETAs are measured with it. */
  readonly clock: () => number;
  /** A password file PostgreSQL's restore_command can read the password from, when there is one (a point-in-time restore writes it into the recovery settings). */
  readonly passwordFile: string | undefined;
  /** A new session: the repositories of one operation, closed when it ends. */
  session(): RepositorySession;
  /** The configured destinations (or the named ones), highest priority first. */
  destinations(only?: string[]): Promise<Destination[]>;
  /** bkdr's own files on this host (local repositories, the catalog). */
  ownFiles(): OwnFiles;
  /** Closes every session still open. */
  closeSessions(): Promise<void>;
}

export function createBackupContext(opts: {
  config: BkdrConfig;
  configDir: string;
  configPath: string;
  catalog: Catalog;
  logger: Logger;
  password: () => Promise<string>;
  passwordFile?: string | undefined;
  lockWaitMs: number;
  clock?: () => number;
}): BackupContext {
  let password: Promise<string> | undefined;
  const open = new Set<RepositorySession>();
  // Asked once, whichever session needs it first; a failed prompt is asked again next time.
  const once = () => {
    password ??= opts.password().catch((err: unknown) => {
      password = undefined;
      throw err;
    });
    return password;
  };
  return {
    config: opts.config,
    configDir: opts.configDir,
    configPath: opts.configPath,
    catalog: opts.catalog,
    runStores: opts.catalog,
    logger: opts.logger,
    passwordFile: opts.passwordFile,
    clock: opts.clock ?? Date.now,
    session: () => {
      const session = new RepositorySession({ password: once, lockWaitMs: opts.lockWaitMs, logger: opts.logger }, () => open.delete(session));
      open.add(session);
      return session;
    },
    closeSessions: async () => {
      for (const session of [...open]) await session.close();
    },
    destinations: (only) => openDestinations(opts.config, opts.configDir, only, opts.logger),
    ownFiles: () => ownFilesOf(opts.config, opts.configDir, opts.catalog.path),
  };
}

export function sourceNames(config: BkdrConfig): string[] {
  return Object.keys(config.sources ?? {});
}

/** The sources a call names ('all', one, several, or none for all), each checked against the config. */
export function selectSources(config: BkdrConfig, sources: string | string[]): string[] {
  const all = sourceNames(config);
  const wanted = sources === 'all' ? all : Array.isArray(sources) ? (sources.length === 0 ? all : sources) : [sources];
  for (const s of wanted) if (!all.includes(s)) throw new UsageError(`unknown source '${s}' (configured: ${all.join(', ') || 'none'})`);
  if (wanted.length === 0) throw new UsageError('the config has no sources');
  return wanted;
}

/** Incremental compares with the source's newest snapshot, differential with its newest full one. */
export async function findParent(repo: Repository, source: string, strategy: BackupType): Promise<Snapshot | undefined> {
  const snapshots = (await repo.listSnapshots()).filter((s) => s.source === source && (strategy === 'incremental' || s.strategy === 'full'));
  return snapshots.at(-1);
}
