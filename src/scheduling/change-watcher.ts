import { ExcludeRules, type OwnPaths } from '../sources/files/exclude.js';

/**
 * The `continuous` strategy's clock: watches a source's paths and decides when to take
 * a snapshot so that no change waits longer than the RPO. A burst of writes is
 * debounced into one snapshot, but the first unsaved change starts a deadline of half
 * the RPO, leaving the other half for the snapshot itself to land.
 */

export interface ChangeWatcherOptions {
  paths: string[];
  exclude: string[];
  /** Paths never watched (a local repository inside the source would trigger itself). */
  ignore?: string[] | undefined;
  /** bkdr's own files, matched by rule (a catalog's side and temporary files have names of their own). */
  own?: OwnPaths | undefined;
  rpoMs: number;
  debounceMs?: number | undefined;
  /** Takes one snapshot; the watcher never runs two at once. */
  snapshot: (changes: { count: number; oldest: Date }) => Promise<void>;
  onEvent?: ((e: WatchEvent) => void) | undefined;
}

export type WatchEvent = { type: 'ready'; paths: string[] } | { type: 'change'; path: string } | { type: 'snapshot-failed'; error: string };

export class ChangeWatcher {
  readonly #o: ChangeWatcherOptions;
  readonly #debounceMs: number;
  #pending: { count: number; oldest: Date } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failedAt = 0;
  #stopped = false;

  constructor(opts: ChangeWatcherOptions) {
    this.#o = opts;
    this.#debounceMs = opts.debounceMs ?? Math.min(2000, Math.max(50, Math.floor(opts.rpoMs / 10)));
  }

  /** Watches until `signal` aborts, then lets a running snapshot finish. */
  async run(signal: AbortSignal): Promise<void> {
    const rules = ExcludeRules.fromConfig(this.#o.paths, this.#o.exclude, this.#o.own);
    const ignored = (this.#o.ignore ?? []).map((p) => p.replace(/\/+$/, ''));
    const { watch } = await import('chokidar');
    const watcher = watch(this.#o.paths, {
      ignoreInitial: true,
      ignored: (path, stats) => ignored.some((i) => path === i || path.startsWith(`${i}/`)) || rules.excludes(Buffer.from(path), stats?.isDirectory() ?? false),
    });
    watcher.on('all', (_event, path) => this.#changed(path));
    watcher.on('error', (err) => this.#o.onEvent?.({ type: 'snapshot-failed', error: `watching failed: ${(err as Error).message}` }));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.#o.onEvent?.({ type: 'ready', paths: this.#o.paths });
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.#stopped = true;
    clearTimeout(this.#timer);
    await watcher.close();
    await this.#running;
  }

  #changed(path: string): void {
    if (this.#stopped) return;
    this.#o.onEvent?.({ type: 'change', path });
    const now = new Date();
    if (!this.#pending) this.#pending = { count: 0, oldest: now };
    this.#pending.count++;
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#pending || this.#stopped) return;
    clearTimeout(this.#timer);
    const deadline = this.#pending.oldest.getTime() + this.#o.rpoMs / 2;
    // After a failure, wait a while before trying again instead of spinning on a broken destination.
    const due = Math.max(Math.min(Date.now() + this.#debounceMs, deadline), this.#failedAt + Math.min(this.#o.rpoMs / 4, 30_000));
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, due - Date.now()));
  }

  #fire(): void {
    // One snapshot at a time: changes that arrive meanwhile wait for the next, which starts when this one ends.
    if (this.#running || !this.#pending || this.#stopped) return;
    const changes = this.#pending;
    this.#pending = undefined;
    this.#running = this.#o
      .snapshot(changes)
      .catch((err: unknown) => {
        // A failed snapshot leaves its changes unsaved: they count towards the next one.
        this.#failedAt = Date.now();
        this.#pending = this.#pending ? { count: this.#pending.count + changes.count, oldest: changes.oldest } : changes;
        this.#o.onEvent?.({ type: 'snapshot-failed', error: err instanceof Error ? err.message : String(err) });
      })
      .finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
  }
}
