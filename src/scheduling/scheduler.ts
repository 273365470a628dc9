import { setTimeout as sleepFor } from 'node:timers/promises';
import { intervalMs, nextRuns, type ScheduledJob } from './schedule-plan.js';

export interface SchedulerClock {
  now(): Date;
  /** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: SchedulerClock = {
  now: () => new Date(),
  sleep: (ms, signal) => sleepFor(ms, undefined, { signal }).catch(() => undefined),
};

export type SchedulerEvent<R> =
  | { type: 'started'; job: ScheduledJob; at: Date }
  | { type: 'finished'; job: ScheduledJob; at: Date; durationMs: number; result: R }
  | { type: 'failed'; job: ScheduledJob; at: Date; durationMs: number; error: unknown }
  | { type: 'skipped'; job: ScheduledJob; at: Date; reason: string }
  | { type: 'stopping'; at: Date; running: ScheduledJob[] }
  | { type: 'stopped'; at: Date };

export interface SchedulerOptions<R extends { status: string }> {
  jobs: readonly ScheduledJob[];
  /** Runs one job; `signal` aborts when the scheduler is stopped. A rejection is a failed run, not the end of the scheduler. */
  runJob: (job: ScheduledJob, signal: AbortSignal) => Promise<R>;
  onEvent?: (event: SchedulerEvent<R>) => void;
  clock?: SchedulerClock;
  /**
   * How many jobs may run at once (default: no limit). A due job waits for a free
   * slot; it is never dropped for another job, only for its own previous run. Waiting
   * jobs start by priority, high before normal before low, and in the order they
   * became due within a priority.
   */
  maxConcurrent?: number;
}

/**
 * The longest single sleep. Waking at least this often re-reads the wall clock, so a
 * suspend or a clock change is noticed, and it keeps under setTimeout's 24.8-day limit.
 */
const MAX_SLEEP_MS = 60_000;

interface JobState {
  job: ScheduledJob;
  due: number | undefined;
  running: boolean;
  queued: boolean;
}

const PRIORITY_RANK: Record<ScheduledJob['priority'], number> = { high: 0, normal: 1, low: 2 };

/** Behind every waiting job of the same or a higher priority, ahead of the lower ones. */
function enqueue(queue: JobState[], state: JobState): void {
  const rank = PRIORITY_RANK[state.job.priority];
  const after = queue.findIndex((s) => PRIORITY_RANK[s.job.priority] > rank);
  if (after === -1) queue.push(state);
  else queue.splice(after, 0, state);
}

/**
 * Runs jobs when they are due until its signal aborts. A job never overlaps itself:
 * a tick that finds the previous run still going (or still waiting for a slot) is
 * skipped and reported. Interval schedules count from the scheduler's start, the
 * first run one interval in; cron schedules follow croner. After a long sleep of the
 * machine a missed job runs once, not once per missed tick.
 */
export class Scheduler<R extends { status: string }> {
  readonly #jobs: readonly ScheduledJob[];
  readonly #runJob: (job: ScheduledJob, signal: AbortSignal) => Promise<R>;
  readonly #onEvent: (event: SchedulerEvent<R>) => void;
  readonly #clock: SchedulerClock;
  readonly #maxConcurrent: number;

  constructor(opts: SchedulerOptions<R>) {
    this.#jobs = opts.jobs;
    this.#runJob = opts.runJob;
    this.#onEvent = opts.onEvent ?? (() => undefined);
    this.#clock = opts.clock ?? systemClock;
    this.#maxConcurrent = opts.maxConcurrent ?? Number.POSITIVE_INFINITY;
  }

  /** Resolves once `signal` has aborted and every running job has settled. */
  async run(signal: AbortSignal): Promise<void> {
    const start = this.#clock.now().getTime();
    const states: JobState[] = this.#jobs.map((job) => ({ job, due: this.#nextDue(job, start, start), running: false, queued: false }));
    const queue: JobState[] = [];
    const inFlight = new Set<Promise<void>>();
    let wake = new AbortController();

    const launch = (state: JobState) => {
      const startedAt = this.#clock.now();
      state.running = true;
      this.#emit({ type: 'started', job: state.job, at: startedAt });
      const elapsed = () => this.#clock.now().getTime() - startedAt.getTime();
      const settled = (async () => {
        try {
          const result = await this.#runJob(state.job, signal);
          this.#emit({ type: 'finished', job: state.job, at: this.#clock.now(), durationMs: elapsed(), result });
        } catch (error) {
          this.#emit({ type: 'failed', job: state.job, at: this.#clock.now(), durationMs: elapsed(), error });
        }
      })().finally(() => {
        state.running = false;
        inFlight.delete(settled);
        // A freed slot may let a queued job start now rather than at the next due time.
        wake.abort();
      });
      inFlight.add(settled);
    };

    while (!signal.aborted) {
      const now = this.#clock.now().getTime();
      for (const state of states) {
        if (state.due === undefined || state.due > now) continue;
        if (state.running || state.queued) {
          const reason = state.running ? 'the previous run is still running' : 'the previous tick is still waiting for another job to finish';
          this.#emit({ type: 'skipped', job: state.job, at: new Date(now), reason });
        } else {
          state.queued = true;
          enqueue(queue, state);
        }
        state.due = this.#nextDue(state.job, start, now);
      }
      while (queue.length > 0 && inFlight.size < this.#maxConcurrent) {
        const state = queue.shift();
        if (!state) break;
        state.queued = false;
        launch(state);
      }
      const dues = states.map((s) => s.due).filter((d): d is number => d !== undefined);
      // Nothing can ever become due again (only schedules that stopped matching): done.
      if (dues.length === 0 && inFlight.size === 0 && queue.length === 0) break;
      const delay = dues.length > 0 ? Math.min(Math.max(Math.min(...dues) - now, 0), MAX_SLEEP_MS) : MAX_SLEEP_MS;
      wake = new AbortController();
      await this.#clock.sleep(delay, AbortSignal.any([signal, wake.signal]));
    }

    queue.length = 0;
    this.#emit({ type: 'stopping', at: this.#clock.now(), running: states.filter((s) => s.running).map((s) => s.job) });
    await Promise.allSettled([...inFlight]);
    this.#emit({ type: 'stopped', at: this.#clock.now() });
  }

  /** The first due time after `now`: intervals on the grid start + k*interval, cron from croner. */
  #nextDue(job: ScheduledJob, start: number, now: number): number | undefined {
    if (job.schedule.type === 'interval') {
      const every = intervalMs(job.schedule);
      return start + (Math.floor((now - start) / every) + 1) * every;
    }
    return nextRuns(job.schedule, new Date(now), 1, job.scheduleFrom)[0]?.getTime();
  }

  #emit(event: SchedulerEvent<R>): void {
    try {
      this.#onEvent(event);
    } catch {
      // A listener that throws must not stop the schedule or lose a job's result.
    }
  }
}
