import { BkdrError, InterruptedError } from '../core/errors.js';
import type { Destination } from './destinations.js';

/** One destination an operation could not finish on; `exitCode` is the error's (CLI.md: 4 locked, 2 usage, 1 otherwise). */
export interface DestinationFailure {
  destination: string;
  error: string;
  exitCode: number;
}

export type FanOutStatus = 'succeeded' | 'partial' | 'failed';

/**
 * Runs one operation on each destination in turn: a failure on one is recorded and the
 * next one still runs; an interrupt stops them all. `after` runs after each one, failed
 * or not (releasing its lock before the next is taken). `passOver` lets an error count
 * as "not here" rather than as a failure.
 */
export async function eachDestination<T, F extends DestinationFailure = DestinationFailure>(
  destinations: readonly Destination[],
  run: (destination: Destination) => Promise<T | undefined>,
  opts: {
    after?: (destination: Destination) => Promise<void>;
    passOver?: (err: unknown) => boolean;
    onFailure?: (failure: F, err: unknown) => void;
    describe?: (failure: DestinationFailure, err: unknown) => F;
  } = {},
): Promise<{ results: T[]; failures: F[]; passedOver: unknown[] }> {
  const results: T[] = [];
  const failures: F[] = [];
  const passedOver: unknown[] = [];
  for (const destination of destinations) {
    try {
      const value = await run(destination);
      if (value !== undefined) results.push(value);
    } catch (err) {
      if (err instanceof InterruptedError) throw err;
      if (opts.passOver?.(err)) {
        passedOver.push(err);
        continue;
      }
      const base: DestinationFailure = { destination: destination.name, error: err instanceof Error ? err.message : String(err), exitCode: err instanceof BkdrError ? err.exitCode : 1 };
      const failure = opts.describe ? opts.describe(base, err) : (base as F);
      failures.push(failure);
      opts.onFailure?.(failure, err);
    } finally {
      await opts.after?.(destination);
    }
  }
  return { results, failures, passedOver };
}

/** Every destination done: succeeded; some: partial (exit 3); none: failed. */
export function fanOutStatus(done: number, failures: number): FanOutStatus {
  return failures === 0 ? 'succeeded' : done > 0 ? 'partial' : 'failed';
}
