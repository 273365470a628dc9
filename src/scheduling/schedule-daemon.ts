import type { PriorityLevel } from '../runtime/process-priority.js';
import type { ScheduledJob } from './schedule-plan.js';
import { Scheduler, type SchedulerClock, type SchedulerEvent } from './scheduler.js';

/**
 * What the daemon needs of the backup service; a BackupManager is one. `R` is what a
 * backup or a prune returns, `W` an event of a continuous backup.
 */
export interface ScheduleRunner<R extends { status: string }, W> {
  createBackup(source: string, opts: { signal: AbortSignal; priority?: PriorityLevel; priorityApplied?: string }): Promise<R>;
  pruneBackups(opts: { signal: AbortSignal }): Promise<R>;
  watchSources(sources: string[], opts: { signal: AbortSignal }, onEvent: (event: W) => void): Promise<unknown>;
  /** A `drTests` suite; absent where DR is not wired (a job of that kind then fails). */
  runRecoveryTest?(suite: string, opts: { signal: AbortSignal }): Promise<R>;
}

export type ScheduleDaemonEvent<R, W> =
  /** Once, before anything runs: what the daemon serves. */
  | { type: 'starting'; jobs: readonly ScheduledJob[]; watched: readonly string[] }
  /** A timer job started, finished, failed or was skipped; the scheduler is stopping or stopped. */
  | { type: 'scheduler'; event: SchedulerEvent<R> }
  /** An event of the watched sources' continuous backup. */
  | { type: 'watch'; event: W };

export interface ScheduleDaemonOptions<R extends { status: string }, W> {
  /** The jobs the timer runs: backups and prunes (continuous sources go in `watched`). */
  jobs: readonly ScheduledJob[];
  /** Sources on the continuous strategy, watched beside the timer whether or not they have a schedule. */
  watched: readonly string[];
  /** Builds a runner: the daemon builds one, and again after a failed run (a password or destination that failed is asked again). */
  createRunner: () => Promise<ScheduleRunner<R, W>>;
  /** Stops the daemon: nothing new starts, and what runs is passed the abort and waited for. */
  signal: AbortSignal;
  onEvent: (event: ScheduleDaemonEvent<R, W>) => void;
  clock?: SchedulerClock;
  /**
   * Sets the process's CPU and I/O priority for a job that is not `normal`, and is
   * restored after it (runtime/process-priority.ts in `bkdr schedule run`). Jobs run in
   * this process one at a time, so the priority is the job's; the continuous backups of
   * `watched` share the process and run at it meanwhile. Without it jobs are only ordered.
   */
  processPriority?: (level: PriorityLevel) => { applied: string; restore(): void };
}

function runJob<R extends { status: string }, W>(runner: ScheduleRunner<R, W>, job: ScheduledJob, signal: AbortSignal, priorityApplied: string | undefined): Promise<R> {
  if (job.kind === 'prune') return runner.pruneBackups({ signal });
  if (job.kind === 'dr-test') {
    if (!runner.runRecoveryTest) throw new Error(`job ${job.id}: this scheduler cannot run DR tests`);
    return runner.runRecoveryTest(job.source, { signal });
  }
  return runner.createBackup(job.source, { signal, priority: job.priority, ...(priorityApplied !== undefined ? { priorityApplied } : {}) });
}

/**
 * Runs scheduled backups, prunes and DR tests when they are due, and watches the continuous
 * sources, until `signal` aborts; resolves once everything has stopped. A job that
 * fails is reported and the schedule goes on.
 */
export async function runScheduleDaemon<R extends { status: string }, W>(opts: ScheduleDaemonOptions<R, W>): Promise<void> {
  // One runner for the whole daemon resolves the password once (no prompt per run);
  // after a failed run it is rebuilt, so a password command or destination that failed
  // once is asked again rather than remembered as failed.
  let runner: ScheduleRunner<R, W> | undefined;
  const scheduler = new Scheduler<R>({
    jobs: opts.jobs,
    // One job at a time, by choice: due jobs queue, so a scheduled prune waits for the
    // backup before it rather than being refused by its lock.
    maxConcurrent: 1,
    runJob: async (job, signal) => {
      const priority = job.priority !== 'normal' ? opts.processPriority?.(job.priority) : undefined;
      try {
        runner ??= await opts.createRunner();
        const result = await runJob(runner, job, signal, priority?.applied);
        if (result.status !== 'succeeded') runner = undefined;
        return result;
      } catch (err) {
        runner = undefined;
        throw err;
      } finally {
        priority?.restore();
      }
    },
    onEvent: (event) => opts.onEvent({ type: 'scheduler', event }),
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
  });
  opts.onEvent({ type: 'starting', jobs: opts.jobs, watched: opts.watched });
  // The watcher shares the timer's runner: each operation opens its own repositories, so they run side by side.
  runner ??= opts.watched.length > 0 ? await opts.createRunner() : undefined;
  const watching = opts.watched.length > 0 && runner ? runner.watchSources([...opts.watched], { signal: opts.signal }, (event) => opts.onEvent({ type: 'watch', event })) : undefined;
  await Promise.all([opts.jobs.length > 0 ? scheduler.run(opts.signal) : undefined, watching]);
}
