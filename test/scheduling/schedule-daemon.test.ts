import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyProcessPriority, niceFromStat } from '../../src/runtime/process-priority.js';
import { runScheduleDaemon, type ScheduleDaemonEvent, type ScheduleRunner } from '../../src/scheduling/schedule-daemon.js';
import type { ScheduledJob } from '../../src/scheduling/schedule-plan.js';
import type { SchedulerClock } from '../../src/scheduling/scheduler.js';

type Result = { status: string; by: number };
type Event = ScheduleDaemonEvent<Result, string>;

const job = (kind: 'backup' | 'prune', source: string, ms: number): ScheduledJob => ({
  id: kind === 'prune' ? 'prune' : `backup:${source}`,
  kind,
  source,
  schedule: { type: 'interval', expression: String(ms) },
  strategy: 'incremental',
  priority: 'normal',
  scheduleFrom: kind === 'prune' ? 'prune.schedule' : `sources.${source}.schedule`,
});

/** A clock whose sleeps take no real time. */
function virtualClock(): SchedulerClock {
  let time = Date.parse('2025-01-01T00:00:00Z');
  return {
    now: () => new Date(time),
    sleep: async (ms, signal) => {
      await new Promise((r) => setImmediate(r));
      if (!signal.aborted) time += ms;
    },
  };
}

/** Runners numbered in the order the daemon builds them; each result says which runner ran it. */
function runners(statuses: string[], watch: (n: number, signal: AbortSignal, onEvent: (e: string) => void) => Promise<unknown> = async () => undefined) {
  const built: number[] = [];
  const calls: string[] = [];
  let active = 0;
  let maxActive = 0;
  const run = async (n: number, what: string): Promise<Result> => {
    active++;
    maxActive = Math.max(maxActive, active);
    calls.push(`${n}:${what}`);
    await new Promise((r) => setImmediate(r));
    active--;
    const status = statuses.shift() ?? 'succeeded';
    if (status === 'throws') throw new Error('password command failed');
    return { status, by: n };
  };
  const createRunner = async (): Promise<ScheduleRunner<Result, string>> => {
    const n = built.length + 1;
    built.push(n);
    return {
      createBackup: (source) => run(n, `backup ${source}`),
      pruneBackups: () => run(n, 'prune'),
      watchSources: (sources, { signal }, onEvent) => watch(n, signal, (e) => onEvent(`${sources.join(',')}: ${e}`)),
    };
  };
  return { createRunner, built, calls, maxActive: () => maxActive };
}

/** Collects events and aborts once `count` timer jobs have settled. */
function stopAfterRuns(controller: AbortController, count: number, events: Event[]) {
  return (e: Event) => {
    events.push(e);
    const settled = events.filter((x) => x.type === 'scheduler' && (x.event.type === 'finished' || x.event.type === 'failed')).length;
    if (settled >= count) controller.abort();
  };
}

describe('runScheduleDaemon', () => {
  it('runs due jobs one at a time through one runner, and builds a new one after a run that did not succeed', async () => {
    const controller = new AbortController();
    const events: Event[] = [];
    const r = runners(['succeeded', 'partial', 'succeeded', 'throws', 'succeeded']);
    await runScheduleDaemon({
      jobs: [job('backup', 'files', 100), job('prune', 'all', 100)],
      watched: [],
      createRunner: r.createRunner,
      signal: controller.signal,
      onEvent: stopAfterRuns(controller, 5, events),
      clock: virtualClock(),
    });

    expect(r.maxActive()).toBe(1);
    // Runner 1 until its partial run, runner 2 until its run threw, then runner 3.
    expect(r.calls).toEqual(['1:backup files', '1:prune', '2:backup files', '2:prune', '3:backup files']);
    expect(events[0]).toEqual({ type: 'starting', jobs: [job('backup', 'files', 100), job('prune', 'all', 100)], watched: [] });
    const failed = events.find((e) => e.type === 'scheduler' && e.event.type === 'failed');
    expect(failed).toMatchObject({ event: { job: { id: 'prune' }, error: new Error('password command failed') } });
    expect(events.at(-1)).toMatchObject({ type: 'scheduler', event: { type: 'stopped' } });
  });

  it('watches the continuous sources beside the timer, through the same runner, until the signal aborts', async () => {
    const controller = new AbortController();
    const events: Event[] = [];
    const watchedBy: number[] = [];
    const r = runners([], async (n, signal, onEvent) => {
      watchedBy.push(n);
      onEvent('watching');
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      onEvent('stopped');
      return { backups: 0 };
    });
    await runScheduleDaemon({
      jobs: [job('backup', 'files', 100)],
      watched: ['live', 'db'],
      createRunner: r.createRunner,
      signal: controller.signal,
      onEvent: stopAfterRuns(controller, 2, events),
      clock: virtualClock(),
    });

    // One runner for both: built at the start for the watcher, and the timer's jobs run through it too.
    expect(watchedBy).toEqual([1]);
    expect(r.calls).toEqual(['1:backup files', '1:backup files']);
    expect(r.built).toEqual([1]);
    const watchEvents = events.filter((e) => e.type === 'watch').map((e) => e.event);
    expect(watchEvents).toEqual(['live,db: watching', 'live,db: stopped']);
    expect(events[0]?.type).toBe('starting');
  });

  it('with only watched sources runs no timer and ends when the watch ends', async () => {
    const controller = new AbortController();
    const events: Event[] = [];
    const r = runners([], async (_n, signal) => {
      setImmediate(() => controller.abort());
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    });
    await runScheduleDaemon({ jobs: [], watched: ['live'], createRunner: r.createRunner, signal: controller.signal, onEvent: (e) => events.push(e), clock: virtualClock() });

    expect(r.built).toEqual([1]);
    expect(events.map((e) => e.type)).toEqual(['starting']);
  });

  it.runIf(process.platform === 'linux' && process.getuid?.() === 0)(
    'runs each job at its priority in this process (nice and I/O class read from /proc and ionice) and puts the process back after it',
    async () => {
      const controller = new AbortController();
      const seen: string[] = [];
      const state = () => `${niceFromStat(readFileSync('/proc/self/stat', 'utf8'))} ${execFileSync('ionice', ['-p', String(process.pid)], { encoding: 'utf8' }).trim()}`;
      const before = state();
      const at = (source: string, priority: ScheduledJob['priority']): ScheduledJob => ({ ...job('backup', source, 100), priority });
      await runScheduleDaemon<Result, string>({
        jobs: [at('bulk', 'low'), at('db', 'high'), at('files', 'normal'), { ...job('prune', 'all', 100) }],
        watched: [],
        createRunner: async () => ({
          createBackup: async (source, opts) => {
            seen.push(`${source} [${opts.priority}] ${state()} | ${opts.priorityApplied ?? '-'}`);
            if (source === 'bulk') controller.abort();
            return { status: 'succeeded', by: 1 };
          },
          pruneBackups: async () => {
            seen.push(`prune ${state()}`);
            return { status: 'succeeded', by: 1 };
          },
          watchSources: async () => undefined,
        }),
        signal: controller.signal,
        onEvent: () => undefined,
        clock: virtualClock(),
        processPriority: (level) => applyProcessPriority(level, { restorable: true }),
      });
      expect(seen).toEqual([
        expect.stringMatching(/^db \[high\] -5 best-effort: prio 0 \| high: nice -5, I\/O best-effort\/0 on \d+ threads$/),
        `files [normal] ${before} | -`,
        `prune ${before}`,
        expect.stringMatching(/^bulk \[low\] 10 idle \| low: nice 10, I\/O idle on \d+ threads$/),
      ]);
      expect(state()).toBe(before);
    },
  );
});
