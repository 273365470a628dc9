import { setTimeout as sleepFor } from 'node:timers/promises';
import type { DrStep } from '../config/dr-schema.js';
import { formatDuration } from '../core/duration.js';
import { InterruptedError } from '../core/errors.js';
import { StepFailedError, type StepContext, type StepExecutor, type StepOutcome } from './step-executor.js';

export interface StepRunClock {
  now(): Date;
}

export type StepRunEvent =
  | { type: 'attempt-started'; stepId: string; attempt: number; attempts: number; at: Date }
  | { type: 'attempt-failed'; stepId: string; attempt: number; attempts: number; at: Date; durationMs: number; timedOut: boolean; error: unknown }
  | { type: 'retrying'; stepId: string; attempt: number; delayMs: number; at: Date };

export interface RunStepOptions {
  /** The execution's signal: when it aborts the attempt stops and runStep rejects with InterruptedError. */
  signal: AbortSignal;
  clock?: StepRunClock;
  /** How to wait between attempts; resolves early or rejects when `signal` aborts (either is fine). For tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  onEvent?: (event: StepRunEvent) => void;
  /**
   * How long an attempt that timed out or was interrupted may take to wind down (kill
   * its processes, close its sockets) before runStep returns without it. Default 5 s.
   */
  settleMs?: number;
}

export interface StepRunResult {
  status: 'succeeded' | 'failed';
  /** Attempts made, the first included. */
  attempts: number;
  /** Set when succeeded. */
  outcome?: StepOutcome;
  /** Set when failed: names the step, carries the attempts and the last attempt's error as `cause`. */
  error?: StepFailedError;
  startedAt: Date;
  endedAt: Date;
  durationMs: number;
}

const systemClock: StepRunClock = { now: () => new Date() };
const defaultSleep = (ms: number, signal: AbortSignal) => sleepFor(ms, undefined, { signal });

const BASE_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
const DEFAULT_SETTLE_MS = 5_000;

/** The wait before attempt `attempt + 1`: 1 s, 2 s, 4 s ... never more than 30 s. No jitter: one step retries alone. */
export function backoffDelay(attempt: number): number {
  return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
}

/** '30s', '1m30s', '200ms': whole seconds without the '.0' of formatDuration. */
function formatLimit(ms: number): string {
  return ms >= 1000 && ms < 60_000 && ms % 1000 === 0 ? `${ms / 1000}s` : formatDuration(ms);
}

type AttemptEnd = { kind: 'done'; outcome: StepOutcome } | { kind: 'error'; error: unknown } | { kind: 'timeout' } | { kind: 'interrupted' };

/**
 * Runs one step through its executor with the step's `timeout` (per attempt) and
 * `retries` (attempts = 1 + retries, backoff between them). A failure is reported in the
 * result, never thrown: what follows (`onFailure`) is the caller's decision. Only an
 * interruption of the outer signal rejects, with InterruptedError, at once: the attempt
 * is aborted and given `settleMs` to wind down, and no retry follows.
 */
export async function runStep<S extends DrStep>(executor: StepExecutor<S>, step: S, ctx: StepContext, opts: RunStepOptions): Promise<StepRunResult> {
  const { signal } = opts;
  const clock = opts.clock ?? systemClock;
  const sleep = opts.sleep ?? defaultSleep;
  const emit = opts.onEvent ?? (() => undefined);
  const settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  const attempts = 1 + (step.retries ?? 0);
  const startedAt = clock.now();
  const finish = (result: Omit<StepRunResult, 'startedAt' | 'endedAt' | 'durationMs'>): StepRunResult => {
    const endedAt = clock.now();
    return { ...result, startedAt, endedAt, durationMs: endedAt.getTime() - startedAt.getTime() };
  };
  const interrupted = () => new InterruptedError(`step ${step.id} interrupted`, { cause: signal.reason });

  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw interrupted();
    const attemptStart = clock.now();
    emit({ type: 'attempt-started', stepId: step.id, attempt, attempts, at: attemptStart });
    const end = await runAttempt(executor, step, ctx, signal, settleMs);
    if (end.kind === 'done') return finish({ status: 'succeeded', attempts: attempt, outcome: end.outcome });
    if (end.kind === 'interrupted') throw interrupted();

    const at = clock.now();
    const timedOut = end.kind === 'timeout';
    const cause = timedOut ? undefined : end.error;
    emit({ type: 'attempt-failed', stepId: step.id, attempt, attempts, at, durationMs: at.getTime() - attemptStart.getTime(), timedOut, error: cause });
    if (attempt >= attempts) {
      const after = attempts > 1 ? ` (attempt ${attempt} of ${attempts})` : '';
      const message = timedOut ? `step ${step.id} timed out after ${formatLimit(step.timeout ?? 0)}${after}` : `step ${step.id} failed${after}: ${describe(cause)}`;
      return finish({ status: 'failed', attempts: attempt, error: new StepFailedError(step.id, attempt, message, cause === undefined ? {} : { cause }) });
    }
    const delayMs = backoffDelay(attempt);
    emit({ type: 'retrying', stepId: step.id, attempt: attempt + 1, delayMs, at });
    try {
      await sleep(delayMs, signal);
    } catch {
      // An aborted sleep: the check at the top of the loop turns it into InterruptedError.
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One attempt under its own AbortController, which the timeout and the outer signal abort. */
async function runAttempt<S extends DrStep>(executor: StepExecutor<S>, step: S, ctx: StepContext, outer: AbortSignal, settleMs: number): Promise<AttemptEnd> {
  const controller = new AbortController();
  let stop: (end: AttemptEnd) => void = () => undefined;
  const stopped = new Promise<AttemptEnd>((resolve) => (stop = resolve));
  const onOuterAbort = () => {
    controller.abort(new InterruptedError(`step ${step.id} interrupted`));
    stop({ kind: 'interrupted' });
  };
  outer.addEventListener('abort', onOuterAbort, { once: true });
  const timer =
    step.timeout === undefined
      ? undefined
      : setTimeout(() => {
          controller.abort(new Error(`step ${step.id} timed out after ${formatLimit(step.timeout ?? 0)}`));
          stop({ kind: 'timeout' });
        }, step.timeout);

  let running: Promise<AttemptEnd>;
  try {
    running = executor.run(step, ctx, controller.signal).then(
      (outcome): AttemptEnd => ({ kind: 'done', outcome }),
      (error: unknown): AttemptEnd => ({ kind: 'error', error }),
    );
  } catch (error) {
    running = Promise.resolve({ kind: 'error', error });
  }
  try {
    const end = await Promise.race([running, stopped]);
    if (end.kind === 'timeout' || end.kind === 'interrupted') {
      // Give the executor a moment to kill what it started; never wait on one that ignores its signal.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise<void>((resolve) => (grace = setTimeout(resolve, settleMs)))]);
      clearTimeout(grace);
    }
    return end;
  } finally {
    clearTimeout(timer);
    outer.removeEventListener('abort', onOuterAbort);
  }
}
