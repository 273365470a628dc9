import type { BackupEvent } from '../backup/backup-manager.js';

/** What a long operation hands over once it is recorded: the id a client follows it by. */
type Start = (signal: AbortSignal, onCreated: (id: string) => void, onEvent: (e: BackupEvent) => void) => Promise<unknown>;

/**
 * The long operations the API started (backups, restores, recoveries): a mutation returns
 * as soon as the service has recorded the run, and the work goes on here. The server's
 * shutdown interrupts them and waits until each has written how it ended (a run
 * `interrupted`, an execution `interrupted` for `dr resume`), so nothing is left `running`
 * or locked. The latest progress event of each run is kept for its subscription.
 */
export class OperationTracker {
  readonly #controller = new AbortController();
  readonly #running = new Set<Promise<unknown>>();
  readonly #latest = new Map<string, BackupEvent>();

  /** Resolves with the operation's id once recorded; rejects if the operation fails before that (a wrong password, a lock held, an unknown source). */
  start(operation: Start): Promise<string> {
    if (this.#controller.signal.aborted) return Promise.reject(new Error('the server is shutting down'));
    return new Promise<string>((resolve, reject) => {
      let id: string | undefined;
      const work = operation(
        this.#controller.signal,
        (created) => {
          id = created;
          resolve(created);
        },
        (event) => {
          if (id !== undefined) this.#latest.set(id, event);
        },
      ).then(
        () => {
          if (id === undefined) reject(new Error('the operation ended before it was recorded'));
        },
        (err: unknown) => {
          // After the id went out, the failure is the run's to record; the client reads it there.
          if (id === undefined) reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
      this.#running.add(work);
      void work.finally(() => {
        this.#running.delete(work);
        // Kept a moment for a subscription that polls after the end; then dropped so the map does not grow with every run.
        if (id !== undefined) setTimeout(() => this.#latest.delete(id!), 60_000).unref();
      });
    });
  }

  /** Work that is not an operation with an id (a dry run) but must end before the services close. */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#running.add(settled);
    void settled.finally(() => this.#running.delete(settled));
    return work;
  }

  /** The newest progress event of a run this server started, if it is still known. */
  latestEvent(id: string): BackupEvent | undefined {
    return this.#latest.get(id);
  }

  get active(): number {
    return this.#running.size;
  }

  /** Interrupts every operation and waits for each to finish its bookkeeping. */
  async shutdown(): Promise<void> {
    this.#controller.abort();
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}
