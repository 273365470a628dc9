import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InterruptedError, OperationError } from '../../src/core/errors.js';
import { commandStep } from '../../src/dr/command-step.js';
import { StepFailedError, type StepExecutor } from '../../src/dr/step-executor.js';
import { backoffDelay, runStep, type StepRunEvent } from '../../src/dr/step-runner.js';
import { gone, recordingContext, step } from '../helpers/dr-step.js';

type WaitStep = Extract<Parameters<typeof runStep>[1], { type: 'wait' }>;

/** An executor that fails its first `failures` runs, then succeeds. */
function flaky(failures: number): StepExecutor<WaitStep> & { runs: number } {
  const ex = {
    runs: 0,
    run: () => {
      ex.runs++;
      return ex.runs <= failures ? Promise.reject(new OperationError(`boom ${ex.runs}`)) : Promise.resolve({ detail: 'ok' });
    },
  };
  return ex;
}

function recordingSleep() {
  const delays: number[] = [];
  return { delays, sleep: (ms: number) => (delays.push(ms), Promise.resolve()) };
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bkdr-step-runner-'));
  dirs.push(d);
  return d;
}

describe('backoffDelay', () => {
  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [5, 16_000],
    [6, 30_000],
    [20, 30_000],
  ])('before attempt %i + 1 waits %i ms', (attempt, ms) => expect(backoffDelay(attempt)).toBe(ms));
});

describe('runStep', () => {
  it('succeeds on the first attempt without sleeping, times from the injected clock', async () => {
    const { delays, sleep } = recordingSleep();
    const times = [new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:01Z'), new Date('2026-01-01T00:00:03Z')];
    const clock = { now: () => times.shift() ?? new Date('2026-01-01T00:00:03Z') };
    const result = await runStep(flaky(0), step({ type: 'wait', duration: 0 }), recordingContext(), { signal: new AbortController().signal, sleep, clock });
    expect(result).toMatchObject({ status: 'succeeded', attempts: 1, outcome: { detail: 'ok' }, durationMs: 3_000 });
    expect(result.startedAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(delays).toEqual([]);
  });

  it('retries with backoff 1 s, 2 s, 4 s and reports each attempt through events', async () => {
    const { delays, sleep } = recordingSleep();
    const events: StepRunEvent[] = [];
    const ex = flaky(3);
    const result = await runStep(ex, step({ type: 'wait', id: 'warm', duration: 0, retries: 5 }), recordingContext(), { signal: new AbortController().signal, sleep, onEvent: (e) => events.push(e) });
    expect(result).toMatchObject({ status: 'succeeded', attempts: 4 });
    expect(ex.runs).toBe(4);
    expect(delays).toEqual([1_000, 2_000, 4_000]);
    expect(events.map((e) => (e.type === 'retrying' ? `retrying ${e.attempt} in ${e.delayMs}` : `${e.type} ${e.attempt}`))).toEqual([
      'attempt-started 1',
      'attempt-failed 1',
      'retrying 2 in 1000',
      'attempt-started 2',
      'attempt-failed 2',
      'retrying 3 in 2000',
      'attempt-started 3',
      'attempt-failed 3',
      'retrying 4 in 4000',
      'attempt-started 4',
    ]);
    const failed = events.find((e) => e.type === 'attempt-failed');
    expect(failed).toMatchObject({ stepId: 'warm', attempts: 6, timedOut: false });
    expect((failed as { error: Error }).error.message).toBe('boom 1');
  });

  it('reports a failure after the last attempt, the backoff capped at 30 s, and does not throw', async () => {
    const { delays, sleep } = recordingSleep();
    const result = await runStep(flaky(99), step({ type: 'wait', id: 'warm', duration: 0, retries: 6 }), recordingContext(), { signal: new AbortController().signal, sleep });
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000]);
    expect(result.status).toBe('failed');
    expect(result.attempts).toBe(7);
    expect(result.error).toBeInstanceOf(StepFailedError);
    expect(result.error).toBeInstanceOf(OperationError);
    expect(result.error).toMatchObject({ stepId: 'warm', attempts: 7, message: 'step warm failed (attempt 7 of 7): boom 7' });
    expect((result.error?.cause as Error).message).toBe('boom 7');
  });

  it('without retries, fails once with the executor’s message', async () => {
    const result = await runStep(flaky(1), step({ type: 'wait', id: 'w', duration: 0 }), recordingContext(), { signal: new AbortController().signal });
    expect(result).toMatchObject({ status: 'failed', attempts: 1 });
    expect(result.error?.message).toBe('step w failed: boom 1');
  });

  it('times out a real `sleep 5` command at 200 ms, within about a second, and leaves no process behind', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'pids');
    const events: StepRunEvent[] = [];
    const begin = Date.now();
    const result = await runStep(commandStep, step({ type: 'command', id: 'slow', command: `echo $$ > ${pidFile}; sleep 5 & echo $! >> ${pidFile}; wait`, timeout: 200 }), recordingContext(), {
      signal: new AbortController().signal,
      onEvent: (e) => events.push(e),
    });
    expect(Date.now() - begin).toBeLessThan(1_000);
    expect(result).toMatchObject({ status: 'failed', attempts: 1 });
    expect(result.error?.message).toBe('step slow timed out after 200ms');
    expect(events.find((e) => e.type === 'attempt-failed')).toMatchObject({ timedOut: true });
    const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(await gone(pid)).toBe(true);
  });

  it('words a whole-seconds timeout as seconds', async () => {
    const neverEnds: StepExecutor<WaitStep> = { run: (_s, _c, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))) };
    const result = await runStep(neverEnds, step({ type: 'wait', id: 'w', duration: 0, timeout: 1_000 }), recordingContext(), { signal: new AbortController().signal });
    expect(result.error?.message).toBe('step w timed out after 1s');
  });

  it('gives a timed-out executor that ignores its signal only settleMs to wind down', async () => {
    const deaf: StepExecutor<WaitStep> = { run: () => new Promise(() => undefined) };
    const begin = Date.now();
    const result = await runStep(deaf, step({ type: 'wait', id: 'w', duration: 0, timeout: 50 }), recordingContext(), { signal: new AbortController().signal, settleMs: 100 });
    expect(result.status).toBe('failed');
    expect(Date.now() - begin).toBeLessThan(1_000);
  });

  it('stops at once with InterruptedError when the outer signal aborts, without retrying, killing the command', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'pids');
    const outer = new AbortController();
    const events: StepRunEvent[] = [];
    setTimeout(() => outer.abort(), 150);
    const begin = Date.now();
    const run = runStep(commandStep, step({ type: 'command', id: 'slow', command: `echo $$ > ${pidFile}; sleep 5`, retries: 3 }), recordingContext(), {
      signal: outer.signal,
      onEvent: (e) => events.push(e),
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(Date.now() - begin).toBeLessThan(1_000);
    expect(events.map((e) => e.type)).toEqual(['attempt-started']);
    expect(await gone(Number(readFileSync(pidFile, 'utf8').trim()))).toBe(true);
  });

  it('stops with InterruptedError when the outer signal aborts during the backoff', async () => {
    const outer = new AbortController();
    const sleep = (_ms: number, signal: AbortSignal) => {
      outer.abort();
      return Promise.reject(signal.reason as Error);
    };
    const ex = flaky(99);
    await expect(runStep(ex, step({ type: 'wait', duration: 0, retries: 3 }), recordingContext(), { signal: outer.signal, sleep })).rejects.toBeInstanceOf(InterruptedError);
    expect(ex.runs).toBe(1);
  });

  it('does not start when the outer signal has already aborted', async () => {
    const ex = flaky(0);
    await expect(runStep(ex, step({ type: 'wait', duration: 0 }), recordingContext(), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(InterruptedError);
    expect(ex.runs).toBe(0);
  });
});
