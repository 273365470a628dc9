import { setTimeout as sleepFor } from 'node:timers/promises';
import { formatDuration } from '../core/duration.js';
import { abortReason, type StepExecutor, type StepOfType, type StepOutcome } from './step-executor.js';

export type WaitStep = StepOfType<'wait'>;

/** Waits the step's `duration` (milliseconds), or until the signal aborts. */
export const waitStep: StepExecutor<WaitStep> = {
  async run(step: WaitStep, _ctx, signal: AbortSignal): Promise<StepOutcome> {
    try {
      await sleepFor(step.duration, undefined, { signal });
    } catch {
      throw abortReason(signal);
    }
    return { detail: `waited ${formatDuration(step.duration)}`, output: { waitedMs: step.duration } };
  },
};
