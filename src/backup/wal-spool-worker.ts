import { isBkdrError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { type WalSpool, whileNotStopped } from './wal-spool.js';

/**
 * The life of a spool's worker: the lock (a second worker leaves at once), the session opened
 * once (a failure to open it, the config's or the password's, is written to worker.error, for
 * the waiting command to say), the
 * loop until idle or SIGTERM, then the lock given back before `cleanUp` runs.
 */
export async function runSpoolWorker<S extends { close(): Promise<void> }>(
  spool: WalSpool,
  open: () => Promise<S>,
  loop: (session: S, stopped: () => boolean) => Promise<void>,
  cleanUp: () => void = () => undefined,
): Promise<number> {
  spool.ensure();
  if (!spool.lock()) return ExitCode.Ok;
  let session: S | undefined;
  try {
    cleanUp();
    spool.remove(spool.path('worker.error'));
    try {
      session = await open();
    } catch (err) {
      spool.writeFailure(spool.path('worker.error'), isBkdrError(err) ? err.exitCode : ExitCode.Failed, (err as Error).message);
      return ExitCode.Failed;
    }
    const opened = session;
    await whileNotStopped((stopped) => loop(opened, stopped));
    return ExitCode.Ok;
  } finally {
    // Unlocked first: a command that sees no live worker no longer takes what it left.
    spool.unlock();
    cleanUp();
    await session?.close();
  }
}
