import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { LockedError } from '../core/errors.js';
import { readAll, type StorageAdapter } from '../storage/adapter.js';
import { processAlive } from '../core/process-alive.js';

/**
 * Repository locks (DESIGN.md "Locks"): objects under `locks/` naming host, pid and
 * time. Backups, restores and copies hold shared locks; prune holds an exclusive one,
 * so it never deletes data a running backup is about to reference. A lock is taken by
 * writing it and then listing: of two writers racing, at least one sees the other and
 * backs off, so two conflicting locks are never both held. Lock objects are plain JSON
 * (they are read before any password is asked for) and name only host, user and pid.
 */

export interface LockRequest {
  exclusive: boolean;
  /** What holds it, for the message another run prints ("backup", "prune"). */
  operation: string;
  /** How long to wait for a conflicting lock to go away; 0 fails at once. */
  waitMs?: number | undefined;
  /** A lock not refreshed for this long is stale (its holder hung or its host died). */
  staleAfterMs?: number | undefined;
  refreshEveryMs?: number | undefined;
  /** Told about stale locks that are ignored (and removed when their process is gone). */
  onStale?: ((lock: LockInfo, reason: string) => void) | undefined;
  /**
   * Read-only work (verify, restore) on a destination that cannot take a write (full,
   * read-only): go on without a lock after checking for an exclusive one, and say why.
   */
  unlockedIfUnwritable?: ((reason: string) => void) | undefined;
}

export interface LockInfo {
  id: string;
  exclusive: boolean;
  operation: string;
  hostname: string;
  username: string;
  pid: number;
  createdAt: string;
  refreshedAt: string;
}

interface LockFile extends Omit<LockInfo, 'id'> {
  version: 1;
}

const PREFIX = 'locks/';
export const DEFAULT_STALE_AFTER_MS = 30 * 60_000;
/** The operation of the exclusive lock that a new repository's creation holds (Repository.openOrCreate). */
export const CREATION_OPERATION = 'init';
/**
 * How long any run waits for a creation's lock, whatever its own wait: a creation holds it
 * only while it writes its key, config and first lock. A second backup started beside the
 * first one on a new destination found the config written and the lock still held, and
 * failed with "locked" where it had only to wait a moment.
 */
const CREATION_WAIT_MS = 60_000;
const DEFAULT_REFRESH_MS = 5 * 60_000;

export class RepositoryLock {
  readonly #adapter: StorageAdapter;
  readonly #key: string;
  readonly #file: LockFile;
  readonly #timer: NodeJS.Timeout;
  #released = false;

  private constructor(adapter: StorageAdapter, key: string, file: LockFile, refreshEveryMs: number, notWritten = false) {
    this.#adapter = adapter;
    this.#key = key;
    this.#file = file;
    this.#released = notWritten;
    // A long backup keeps its lock fresh so nobody takes it for stale; unref: the lock never keeps a process alive.
    this.#timer = setInterval(() => void this.#refresh(), refreshEveryMs);
    this.#timer.unref();
  }

  get id(): string {
    return this.#key.slice(PREFIX.length);
  }

  get exclusive(): boolean {
    return this.#file.exclusive;
  }

  static async acquire(adapter: StorageAdapter, req: LockRequest, ownLocks: readonly string[] = []): Promise<RepositoryLock> {
    const started = Date.now();
    const deadlineFor = (holder: LockInfo) => started + (holder.exclusive && holder.operation === CREATION_OPERATION ? Math.max(req.waitMs ?? 0, CREATION_WAIT_MS) : (req.waitMs ?? 0));
    const staleAfterMs = req.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    const now = new Date().toISOString();
    const file: LockFile = { version: 1, exclusive: req.exclusive, operation: req.operation, hostname: hostname(), username: userInfo().username, pid: process.pid, createdAt: now, refreshedAt: now };
    const key = `${PREFIX}${randomBytes(16).toString('hex')}`;
    const reported = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      // Look before writing, so a run that will be refused leaves no trace.
      let holder = await findConflict(adapter, req, [...ownLocks, key.slice(PREFIX.length)], staleAfterMs, reported);
      if (!holder) {
        try {
          await adapter.put(key, Buffer.from(JSON.stringify({ ...file, refreshedAt: new Date().toISOString() })));
        } catch (err) {
          const code = (err as { cause?: NodeJS.ErrnoException }).cause?.code ?? (err as NodeJS.ErrnoException).code ?? '';
          if (!req.unlockedIfUnwritable || req.exclusive || !/ENOSPC|EROFS|EDQUOT|EACCES/.test(`${code} ${(err as Error).message}`)) throw err;
          req.unlockedIfUnwritable(`cannot write a lock (${(err as Error).message}); going on without one`);
          return new RepositoryLock(adapter, key, file, req.refreshEveryMs ?? DEFAULT_REFRESH_MS, true);
        }
        holder = await findConflict(adapter, req, [...ownLocks, key.slice(PREFIX.length)], staleAfterMs, reported);
        if (!holder) return new RepositoryLock(adapter, key, file, req.refreshEveryMs ?? DEFAULT_REFRESH_MS);
        // Lost a race with another writer: step back so one of us can go on.
        await adapter.delete(key).catch(() => undefined);
      }
      const deadline = deadlineFor(holder);
      if (Date.now() >= deadline) throw lockedError(adapter.name, holder);
      // Jitter breaks the symmetry of two runs that keep colliding.
      const pause = Math.min(Math.max(deadline - Date.now(), 0), 200 + Math.random() * Math.min(2000, 200 * 2 ** attempt));
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    await this.#adapter.delete(this.#key).catch(() => undefined);
  }

  async #refresh(): Promise<void> {
    if (this.#released) return;
    this.#file.refreshedAt = new Date().toISOString();
    await this.#adapter.put(this.#key, Buffer.from(JSON.stringify(this.#file))).catch(() => undefined);
  }
}

/** Every lock on the repository, with why it is stale when it is. */
export async function listLocks(adapter: StorageAdapter, staleAfterMs = DEFAULT_STALE_AFTER_MS): Promise<(LockInfo & { stale?: string })[]> {
  const out: (LockInfo & { stale?: string })[] = [];
  for await (const obj of adapter.list(PREFIX)) {
    const id = obj.key.slice(PREFIX.length);
    let file: LockFile;
    try {
      file = JSON.parse((await readAll(await adapter.get(obj.key))).toString('utf8')) as LockFile;
    } catch {
      // Removed while we listed (a run finished), or unreadable: not a lock anyone holds.
      continue;
    }
    const info: LockInfo = {
      id,
      exclusive: file.exclusive,
      operation: file.operation,
      hostname: file.hostname,
      username: file.username,
      pid: file.pid,
      createdAt: file.createdAt,
      refreshedAt: file.refreshedAt,
    };
    const stale = staleness(info, staleAfterMs);
    out.push(stale ? { ...info, stale } : info);
  }
  return out;
}

function staleness(lock: LockInfo, staleAfterMs: number): string | undefined {
  if (lock.hostname === hostname() && !processAlive(lock.pid)) return 'its process is gone';
  const age = Date.now() - Date.parse(lock.refreshedAt);
  if (age > staleAfterMs) return `not refreshed for ${Math.round(age / 60_000)} min`;
  return undefined;
}

async function findConflict(adapter: StorageAdapter, req: LockRequest, ignore: string[], staleAfterMs: number, reported: Set<string>): Promise<LockInfo | undefined> {
  for (const lock of await listLocks(adapter, staleAfterMs)) {
    if (ignore.includes(lock.id)) continue;
    if (lock.stale) {
      if (!reported.has(lock.id)) {
        reported.add(lock.id);
        req.onStale?.(lock, lock.stale);
      }
      // A lock whose process is provably gone is removed; an old one from another host is only ignored.
      if (lock.hostname === hostname() && !processAlive(lock.pid)) await adapter.delete(`${PREFIX}${lock.id}`).catch(() => undefined);
      continue;
    }
    if (req.exclusive || lock.exclusive) return lock;
  }
  return undefined;
}

export function describeLock(lock: LockInfo): string {
  return `${lock.hostname}:${lock.pid} (${lock.exclusive ? 'exclusive' : 'shared'} lock for ${lock.operation}) since ${lock.createdAt}`;
}

function lockedError(destination: string, holder: LockInfo): LockedError {
  return new LockedError(`destination ${destination} is locked by ${describeLock(holder)}`, { remedy: { option: 'lockWait' } });
}
