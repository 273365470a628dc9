import { existsSync } from 'node:fs';
import { isBkdrError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import type { WalArchive, WalFetchSession } from './wal-archive.js';
import { nextSegment, WalSpool } from './wal-spool.js';
import { runSpoolWorker } from './wal-spool-worker.js';

/** Fetches at once: reading, opening and checking 16 MiB overlap across them. */
const IN_FLIGHT = 3;
/** With nothing asked for or taken this long, the worker ends and removes what it staged. */
const IDLE_EXIT_MS = 10_000;
const POLL_MS = 5;
const DEFAULT_SEGMENT_BYTES = 16 * 2 ** 20;

/**
 * The one long-lived process of asynchronous restore (`wal fetch --async`), as pgBackRest's
 * archive-get queue: answers what PostgreSQL asks for, then fetches the segments after it
 * before they are asked for, keeping up to `prefetch` of them staged. A staged file has
 * been checked against its hash and synced before its final name appears, so the command
 * that renames it into pg_wal hands over only whole, verified files.
 */
export async function runWalFetchWorker(opts: { archive: () => Promise<WalArchive>; source: string | undefined; spool: string; prefetch: number; logger?: Logger }): Promise<number> {
  const spool = new WalSpool(opts.spool, 'fetch');
  const logger = opts.logger ?? silentLogger;
  return runSpoolWorker(
    spool,
    async () => {
      const archive = await opts.archive();
      return archive.openFetch(archive.source(opts.source));
    },
    (session, stopped) => new Prefetcher(spool, session, opts.prefetch, logger).run(stopped),
    // Staged files a killed worker left may predate changes to the archive; none outlive this one.
    () => clearStaged(spool),
  );
}

function clearStaged(spool: WalSpool): void {
  for (const name of spool.answers()) spool.remove(spool.path(name));
}

class Prefetcher {
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Fetched ahead and not yet taken, in WAL order. */
  readonly #staged = new Set<string>();
  /** The next segment to fetch ahead; undefined before the first request or after the end of the archive. */
  #next: string | undefined;
  #segmentBytes = DEFAULT_SEGMENT_BYTES;
  #lastActivity = Date.now();

  constructor(
    readonly spool: WalSpool,
    readonly session: WalFetchSession,
    readonly prefetch: number,
    readonly logger: Logger,
  ) {}

  async run(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      // Taken by PostgreSQL's command: room for one more ahead.
      for (const name of this.#staged)
        if (!existsSync(this.spool.path(name))) {
          this.#staged.delete(name);
          this.#lastActivity = Date.now();
        }
      for (const name of this.spool.queued().sort()) {
        if (this.#inFlight.has(name)) continue;
        this.#lastActivity = Date.now();
        if (this.#staged.has(name) && existsSync(this.spool.path(name))) {
          this.spool.remove(this.spool.path(`want/${name}`));
          continue;
        }
        this.#start(name, true);
        // What follows a segment asked for is what PostgreSQL asks for next.
        const after = nextSegment(name, this.#segmentBytes);
        // Not back to it when reading ahead is already past it (a file it failed to read ahead).
        if (after && (this.#next === undefined || after > this.#next)) this.#next = after;
      }
      while (this.#next && this.#inFlight.size < IN_FLIGHT && this.#staged.size + this.#inFlight.size < this.prefetch) {
        const name = this.#next;
        this.#next = nextSegment(name, this.#segmentBytes);
        if (!this.#inFlight.has(name) && !this.#staged.has(name)) this.#start(name, false);
      }
      if (this.#inFlight.size > 0) {
        await Promise.race([...this.#inFlight.values(), sleep(POLL_MS)]);
        continue;
      }
      if (this.spool.queued().length === 0 && Date.now() - this.#lastActivity >= IDLE_EXIT_MS) return;
      await sleep(POLL_MS);
    }
    await Promise.allSettled(this.#inFlight.values());
  }

  /** Fetches `name`; one asked for gets an answer in the spool whatever happens, one read ahead only when found. */
  #start(name: string, asked: boolean): void {
    const fetching = (async () => {
      try {
        const found = await this.session.get(name);
        if (!found) {
          // The end of the archive for now: nothing more is read ahead until PostgreSQL asks again.
          if (!asked) this.#next = undefined;
          else this.spool.writeAtomic(this.spool.path(`${name}.missing`), '');
          return;
        }
        if (nextSegment(name, found.data.length)) this.#segmentBytes = found.data.length;
        await writeFileAtomic(this.spool.path(name), found.data, { sync: true, mode: 0o600 });
        this.#staged.add(name);
      } catch (err) {
        if (asked) this.spool.writeFailure(this.spool.path(`${name}.error`), isBkdrError(err) ? err.exitCode : ExitCode.Failed, (err as Error).message);
        else this.#next = undefined;
        this.logger.warn(`wal fetch ${name}: ${(err as Error).message}`);
      } finally {
        if (asked) this.spool.remove(this.spool.path(`want/${name}`));
        this.#inFlight.delete(name);
        // An answer just given is activity: not cleared by an idle exit before its command takes it.
        this.#lastActivity = Date.now();
      }
    })();
    this.#inFlight.set(name, fetching);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
