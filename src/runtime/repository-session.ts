import { BkdrError, OperationError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { type ChunkerParams, Repository } from '../repo/repository.js';
import { describeLock, type LockInfo } from '../repo/repository-lock.js';
import type { Destination } from './destinations.js';

export type LockMode = 'shared' | 'exclusive' | 'none';

export interface OpenRequest {
  create?: boolean;
  /** A new repository's creation may finish while the caller goes on (a backup's first writes wait for it). */
  inBackground?: boolean;
  chunker?: ChunkerParams | undefined;
  lock?: { mode: LockMode; operation: string };
  tolerateDamagedIndex?: boolean;
  onKeyDerivation?: () => void;
}

/** What every session of one service shares: how to get the password (asked once), the lock wait, the logger. */
export interface SessionSettings {
  password: () => Promise<string>;
  lockWaitMs: number;
  logger?: Logger;
}

/**
 * The repositories one operation has open (DESIGN.md "Every operation opens its own
 * repository session"): each destination opened at most once, with the lock the
 * operation asked for, and closed, locks released, when the operation ends, and only
 * those. Two operations in one process (a backup and a restore, two restores, a DR
 * step graph) each hold their own session and their own locks, as two processes would.
 */
export class RepositorySession {
  readonly #settings: SessionSettings;
  readonly #logger: Logger;
  readonly #repos = new Map<string, Promise<Repository | undefined>>();

  readonly #onClose: (() => void) | undefined;

  constructor(settings: SessionSettings, onClose?: () => void) {
    this.#settings = settings;
    this.#onClose = onClose;
    this.#logger = settings.logger ?? silentLogger;
  }

  /** The destination's repository; undefined when it holds none (and `create` was not asked). */
  open(destination: Destination, req: OpenRequest = {}): Promise<Repository | undefined> {
    const pending = this.#repos.get(destination.name);
    // A destination found empty by a read-only call still gets its repository when a backup needs one.
    if (pending && req.create) {
      const created = pending.catch(() => undefined).then((repo) => repo ?? this.#open(destination, req));
      this.#repos.set(destination.name, created);
      return created;
    }
    if (pending) return pending;
    const opening = this.#open(destination, req);
    this.#repos.set(destination.name, opening);
    return opening;
  }

  /** Closes one destination's repository now (a prune of many destinations holds one lock at a time). */
  async release(destination: Destination): Promise<void> {
    const pending = this.#repos.get(destination.name);
    this.#repos.delete(destination.name);
    await (await pending?.catch(() => undefined))?.close();
  }

  async close(): Promise<void> {
    this.#onClose?.();
    const repos = [...this.#repos.values()];
    this.#repos.clear();
    for (const r of repos) await (await r.catch(() => undefined))?.close();
  }

  async #open(destination: Destination, req: OpenRequest): Promise<Repository | undefined> {
    const password = destination.encrypted ? await this.#settings.password() : null;
    const lock =
      req.lock && req.lock.mode !== 'none'
        ? {
            exclusive: req.lock.mode === 'exclusive',
            operation: req.lock.operation,
            waitMs: this.#settings.lockWaitMs,
            onStale: (l: LockInfo, reason: string) => this.#logger.warn(`destination ${destination.name}: ignoring the stale lock of ${describeLock(l)}: ${reason}`),
            ...(req.lock.operation === 'verify' || req.lock.operation === 'restore'
              ? { unlockedIfUnwritable: (reason: string) => this.#logger.warn(`destination ${destination.name}: ${reason}`) }
              : {}),
          }
        : undefined;
    const open = { password, compression: destination.compression, lock, tolerateDamagedIndex: req.tolerateDamagedIndex, onKeyDerivation: req.onKeyDerivation };
    try {
      if (req.create) return (await Repository.openOrCreate(destination.adapter, { ...open, chunker: req.chunker, inBackground: req.inBackground ?? false })).repo;
      if (!(await Repository.exists(destination.adapter))) return undefined;
      return await Repository.open(destination.adapter, open);
    } catch (err) {
      if (err instanceof BkdrError) throw err;
      throw new OperationError(`destination ${destination.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}
