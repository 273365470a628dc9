import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ScheduledJob } from '../../src/scheduling/schedule-plan.js';
import { Scheduler, type SchedulerClock, type SchedulerEvent } from '../../src/scheduling/scheduler.js';

type Result = { status: string };

const intervalJob = (source: string, ms: number): ScheduledJob => ({
  id: `backup:${source}`,
  kind: 'backup',
  source,
  schedule: { type: 'interval', expression: String(ms) },
  strategy: 'incremental',
  priority: 'normal',
  scheduleFrom: `sources.${source}.schedule`,
});

/** Stops the scheduler once `count` events of `type` have been seen. */
function stopAfter(controller: AbortController, type: SchedulerEvent<Result>['type'], count: number, events: SchedulerEvent<Result>[]) {
  return (e: SchedulerEvent<Result>) => {
    events.push(e);
    if (events.filter((x) => x.type === type).length >= count) controller.abort();
  };
}

/** A clock whose sleeps take no real time: runs are deterministic to the millisecond. */
function virtualClock(startIso: string): SchedulerClock & { readonly time: number } {
  let time = new Date(startIso).getTime();
  return {
    get time() {
      return time;
    },
    now: () => new Date(time),
    sleep: async (ms, signal) => {
      await new Promise((r) => setImmediate(r));
      if (!signal.aborted) time += ms;
    },
  };
}

describe('Scheduler', () => {
  it('never starts a job while its previous run is still running, and says it skipped the tick', async () => {
    const controller = new AbortController();
    const events: SchedulerEvent<Result>[] = [];
    let active = 0;
    let maxActive = 0;
    const scheduler = new Scheduler<Result>({
      jobs: [intervalJob('files', 50)],
      runJob: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(180);
        active--;
        return { status: 'succeeded' };
      },
      onEvent: stopAfter(controller, 'finished', 3, events),
    });
    await scheduler.run(controller.signal);

    expect(maxActive).toBe(1);
    const runEvents = events.filter((e) => e.type === 'started' || e.type === 'finished').map((e) => e.type);
    // Strictly alternating: every start comes after the previous run finished.
    expect(runEvents).toEqual(['started', 'finished', 'started', 'finished', 'started', 'finished']);
    const skipped = events.filter((e) => e.type === 'skipped');
    // A 180 ms run covers more 50 ms ticks; loose bound, as a loaded machine merges late ticks.
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    expect(skipped[0]).toMatchObject({ job: { id: 'backup:files' }, reason: 'the previous run is still running' });
    expect(events.at(-1)?.type).toBe('stopped');
  });

  it('on abort starts nothing more, passes the abort to the running job and waits for it', async () => {
    const controller = new AbortController();
    const events: SchedulerEvent<Result>[] = [];
    let sawAbort = false;
    let finishedAt = 0;
    const scheduler = new Scheduler<Result>({
      jobs: [intervalJob('files', 30)],
      runJob: async (_job, signal) => {
        // Aborted while the job runs, before the next 30 ms tick: a 20 ms timer for it fired after that tick
        // on a loaded machine (CI), which then counted a skipped run.
        queueMicrotask(() => controller.abort());
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        sawAbort = true;
        await sleep(100); // the job winds down after the abort
        finishedAt = Date.now();
        return { status: 'interrupted' };
      },
      onEvent: (e) => events.push(e),
    });
    await scheduler.run(controller.signal);
    const resolvedAt = Date.now();

    expect(sawAbort).toBe(true);
    expect(resolvedAt).toBeGreaterThanOrEqual(finishedAt);
    expect(events.map((e) => e.type)).toEqual(['started', 'stopping', 'finished', 'stopped']);
    expect(events[1]).toMatchObject({ type: 'stopping', running: [{ id: 'backup:files' }] });
  });

  it('keeps going after a job fails', async () => {
    const controller = new AbortController();
    const events: SchedulerEvent<Result>[] = [];
    let calls = 0;
    const scheduler = new Scheduler<Result>({
      jobs: [intervalJob('files', 20)],
      runJob: async () => {
        calls++;
        if (calls === 1) throw new Error('disk full');
        return { status: 'succeeded' };
      },
      onEvent: stopAfter(controller, 'finished', 2, events),
    });
    await scheduler.run(controller.signal);
    const outcomes = events.filter((e) => e.type === 'failed' || e.type === 'finished');
    expect(outcomes.map((e) => e.type)).toEqual(['failed', 'finished', 'finished']);
    expect(outcomes[0]).toMatchObject({ error: new Error('disk full') });
  });

  it('with one slot, queues a due job behind another job rather than dropping it', async () => {
    const controller = new AbortController();
    const events: SchedulerEvent<Result>[] = [];
    let active = 0;
    let maxActive = 0;
    const scheduler = new Scheduler<Result>({
      jobs: [intervalJob('slow', 40), intervalJob('quick', 40)],
      maxConcurrent: 1,
      runJob: async (job) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(job.source === 'slow' ? 120 : 5);
        active--;
        return { status: 'succeeded' };
      },
      onEvent: (e) => {
        events.push(e);
        if (events.filter((x) => x.type === 'finished' && x.job.source === 'quick').length >= 2) controller.abort();
      },
    });
    await scheduler.run(controller.signal);
    expect(maxActive).toBe(1);
    const starts = events.filter((e) => e.type === 'started').map((e) => (e.type === 'started' ? e.job.source : ''));
    expect(starts.slice(0, 2)).toEqual(['slow', 'quick']);
    expect(events.some((e) => e.type === 'skipped' && e.job.source === 'slow')).toBe(true);
  });

  it('counts intervals from its start (first run one interval in) and follows cron times', async () => {
    const clock = virtualClock('2026-01-01T00:00:00.500Z');
    const controller = new AbortController();
    const starts: string[] = [];
    const cronJob: ScheduledJob = { ...intervalJob('db', 1), id: 'backup:db', schedule: { type: 'cron', expression: '*/2 * * * * *', timezone: 'UTC' } };
    const scheduler = new Scheduler<Result>({
      jobs: [intervalJob('files', 1500), cronJob],
      clock,
      runJob: async (job) => {
        starts.push(`${job.source}@${new Date(clock.time).toISOString().slice(17, 23)}`);
        if (clock.time >= new Date('2026-01-01T00:00:06Z').getTime()) controller.abort();
        return { status: 'succeeded' };
      },
    });
    await scheduler.run(controller.signal);
    expect(starts).toEqual(['files@02.000', 'db@02.000', 'files@03.500', 'db@04.000', 'files@05.000', 'db@06.000']);
  });

  it('starts waiting jobs by priority, high before normal before low, in the order they became due within a priority', async () => {
    const clock = virtualClock('2026-01-01T00:00:00Z');
    const controller = new AbortController();
    const starts: string[] = [];
    const job = (source: string, ms: number, priority: ScheduledJob['priority']): ScheduledJob => ({ ...intervalJob(source, ms), priority });
    const scheduler = new Scheduler<Result>({
      // Due at 1 s (blocker), 1.5 s (low), 2 s (n1), 2.5 s (n2), 3 s (high): all but the blocker wait for it.
      jobs: [job('blocker', 1000, 'normal'), job('low', 1500, 'low'), job('n1', 2000, 'normal'), job('n2', 2500, 'normal'), job('high', 3000, 'high')],
      maxConcurrent: 1,
      clock,
      runJob: async (j) => {
        starts.push(j.source);
        if (j.source === 'blocker') while (clock.time < Date.parse('2026-01-01T00:00:03Z')) await new Promise((r) => setImmediate(r));
        if (starts.length >= 5) controller.abort();
        return { status: 'succeeded' };
      },
    });
    await scheduler.run(controller.signal);
    expect(starts).toEqual(['blocker', 'high', 'n1', 'n2', 'low']);
  });

  it('with jobs due together, runs the high one first and keeps the config order among equals', async () => {
    const clock = virtualClock('2026-01-01T00:00:00Z');
    const controller = new AbortController();
    const starts: string[] = [];
    const job = (source: string, priority: ScheduledJob['priority']): ScheduledJob => ({ ...intervalJob(source, 1000), priority });
    const scheduler = new Scheduler<Result>({
      jobs: [job('a-low', 'low'), job('b', 'normal'), job('c-high', 'high'), job('d', 'normal'), job('e-low', 'low'), job('f-high', 'high')],
      maxConcurrent: 1,
      clock,
      runJob: async (j) => {
        starts.push(j.source);
        if (starts.length >= 6) controller.abort();
        return { status: 'succeeded' };
      },
    });
    await scheduler.run(controller.signal);
    expect(starts).toEqual(['c-high', 'f-high', 'b', 'd', 'a-low', 'e-low']);
  });
});
