import { open, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isBkdrError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { WalArchive, WalPushSession } from './wal-archive.js';
import { walStamp, WalSpool } from './wal-spool.js';
import { runSpoolWorker } from './wal-spool-worker.js';

/** WAL files stored at once: reading, compressing, sealing and writing 16 MiB overlap across them (3: 16, 4: 23 files/s alone on 2 cores). */
const IN_FLIGHT = 4;
/** With nothing queued or ready this long, the worker ends; the next push starts another. */
const IDLE_EXIT_MS = 3000;
const POLL_MS = 10;

/**
 * The one long-lived process of asynchronous archiving (`wal push --async`): stores what the
 * spool's queue holds and what PostgreSQL has marked ready beside it (pg_wal/archive_status),
 * oldest first, several at a time, with the repositories opened and the key derived once;
 * writes `<name>.ok` only once a file is stored on every destination.
 */
export async function runWalPushWorker(opts: { archive: () => Promise<WalArchive>; source: string | undefined; spool: string; logger?: Logger }): Promise<number> {
  const spool = new WalSpool(opts.spool, 'push');
  const logger = opts.logger ?? silentLogger;
  return runSpoolWorker(
    spool,
    async () => {
      const archive = await opts.archive();
      return archive.openPush(archive.source(opts.source));
    },
    (session, stopped) => pushUntilIdle(spool, session, logger, stopped),
  );
}

async function pushUntilIdle(spool: WalSpool, session: WalPushSession, logger: Logger, stopped: () => boolean): Promise<void> {
  const inFlight = new Map<string, Promise<void>>();
  /** Ready files read ahead whose push failed: tried again only once PostgreSQL asks for them. */
  const failedAhead = new Set<string>();
  const walDirs = new Set<string>();
  /** What this worker stored, by name: the stamp of the file it read. */
  const stored = new Map<string, string>();
  let idleSince = Date.now();
  while (!stopped()) {
    const queued = new Map<string, string>();
    for (const name of spool.queued()) {
      const path = spool.read(join(spool.queueDir, name));
      if (path) {
        queued.set(name, path);
        walDirs.add(dirname(path));
        failedAhead.delete(name);
      }
    }
    for (const [name, path] of queued) {
      // Asked for again after it was stored (its answer was taken, or crossed the request): answered without storing it twice.
      if (stored.get(name) === (await stampOf(path)) && !inFlight.has(name)) {
        spool.writeAtomic(spool.path(`${name}.ok`), stored.get(name)!);
        spool.remove(join(spool.queueDir, name));
        queued.delete(name);
      }
    }
    const ready = await readyFiles(walDirs);
    // A ready file this worker stored and whose answer was taken is PostgreSQL's to mark done, not to store again.
    const todo = [...ready.entries()]
      .filter(([name]) => !stored.has(name))
      .concat([...queued])
      .filter(([name]) => !inFlight.has(name) && !failedAhead.has(name) && spool.read(spool.path(`${name}.ok`)) === undefined);
    // Oldest first: segment names sort in WAL order, and PostgreSQL asks for them in that order.
    todo.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [name, path] of todo) {
      if (inFlight.size >= IN_FLIGHT) break;
      const isQueued = queued.has(name);
      const pushing = pushOne(spool, session, name, path, isQueued)
        .then((stamp) => void stored.set(name, stamp))
        .catch((err: unknown) => {
          if (!isQueued) failedAhead.add(name);
          logger.warn(`wal push ${name}: ${(err as Error).message}`);
        })
        .finally(() => inFlight.delete(name));
      inFlight.set(name, pushing);
    }
    if (inFlight.size > 0) {
      idleSince = Date.now();
      await Promise.race(inFlight.values());
      continue;
    }
    if (todo.length === 0 && spool.queued().length === 0 && Date.now() - idleSince >= IDLE_EXIT_MS) {
      removeUnaskedAcknowledgements(spool, ready);
      return;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  // Stopped: what is being stored finishes (and is acknowledged); the rest waits for the next worker.
  await Promise.allSettled(inFlight.values());
}

async function stampOf(path: string): Promise<string | undefined> {
  return stat(path, { bigint: true }).then(walStamp, () => undefined);
}

/**
 * The answers no command will read, once nothing is queued: an .ok for a file no longer marked
 * ready (PostgreSQL asks only for those; one answered twice, when a request crossed its answer),
 * and an .error whose command gave up waiting.
 */
function removeUnaskedAcknowledgements(spool: WalSpool, ready: Map<string, string>): void {
  for (const entry of spool.answers()) {
    if (entry.endsWith('.ok') && !ready.has(entry.slice(0, -'.ok'.length))) spool.remove(spool.path(entry));
    else if (entry.endsWith('.error')) spool.remove(spool.path(entry));
  }
}

/** The files PostgreSQL has finished and not yet seen archived, in the pg_wal directories pushes came from. */
async function readyFiles(walDirs: Set<string>): Promise<Map<string, string>> {
  const ready = new Map<string, string>();
  for (const dir of walDirs) {
    const names = await readdir(join(dir, 'archive_status')).catch(() => [] as string[]);
    for (const n of names) if (n.endsWith('.ready')) ready.set(n.slice(0, -'.ready'.length), join(dir, n.slice(0, -'.ready'.length)));
  }
  return ready;
}

/** Reads the file (and what it was when read), stores it, then acknowledges; a queued file's failure is written for its command. */
async function pushOne(spool: WalSpool, session: WalPushSession, name: string, path: string, queued: boolean): Promise<string> {
  let read: { data: Buffer; whole: Buffer; stamp: string } | undefined;
  try {
    read = await readWhole(path);
    await session.put(name, read.data);
    spool.writeAtomic(spool.path(`${name}.ok`), read.stamp);
    return read.stamp;
  } catch (err) {
    if (queued) spool.writeFailure(spool.path(`${name}.error`), isBkdrError(err) ? err.exitCode : ExitCode.Failed, (err as Error).message);
    throw err;
  } finally {
    if (read && spareBuffers.length < IN_FLIGHT) spareBuffers.push(read.whole);
    if (queued) spool.remove(join(spool.queueDir, name));
  }
}

/**
 * Read buffers kept for the next files: a fresh 16 MiB Buffer per file cost its page faults
 * and, counted as external memory, a full garbage collection every few files.
 */
const spareBuffers: Buffer[] = [];
const SEGMENT_BYTES = 16 * 2 ** 20;

/** The file's bytes (in a kept buffer, `whole`) and what it was when read (its stamp); a file written to meanwhile is refused. */
async function readWhole(path: string): Promise<{ data: Buffer; whole: Buffer; stamp: string }> {
  try {
    const handle = await open(path, 'r');
    try {
      const before = await handle.stat({ bigint: true });
      const size = Number(before.size);
      const spare = spareBuffers.findIndex((b) => b.length >= size);
      const whole = spare >= 0 ? spareBuffers.splice(spare, 1)[0]! : Buffer.allocUnsafeSlow(Math.max(size, SEGMENT_BYTES));
      let length = 0;
      for (let n = -1; n !== 0 && length < size; length += n) n = (await handle.read(whole, length, size - length, length)).bytesRead;
      const after = await handle.stat({ bigint: true });
      const stamp = walStamp(after);
      // PostgreSQL marks a file ready only once it is complete: one that changes is not one to store.
      if (stamp !== walStamp(before) || BigInt(length) !== after.size) throw new UsageError(`WAL file ${path} changed while it was read`);
      return { data: whole.subarray(0, length), whole, stamp };
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (isBkdrError(err)) throw err;
    throw new UsageError(`cannot read WAL file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
