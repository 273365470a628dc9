import { ExitCode } from '../../../core/exit-codes.js';
import { createTable } from '../../format.js';

/**
 * Partial is exit 3. A run that failed everywhere for one reason exits with that reason's
 * code: 4 when every destination was locked, 2 for a missing password or bad config.
 */
export function exitCodeFor(result: { status: 'succeeded' | 'partial' | 'failed'; failures: { exitCode: number }[] }): ExitCode {
  if (result.status === 'succeeded') return ExitCode.Ok;
  if (result.status === 'partial') return ExitCode.Partial;
  const codes = new Set(result.failures.map((f) => f.exitCode));
  const only = codes.size === 1 ? ([...codes][0] as ExitCode) : undefined;
  return only === ExitCode.Locked || only === ExitCode.Usage ? only : ExitCode.Failed;
}

/** The table of destinations that failed, under a prune or verify result. */
export function destinationFailures(failures: { destination: string; error: string }[]): string {
  const table = createTable(['destination', 'failed because']);
  for (const f of failures) table.push([f.destination, f.error]);
  return table.toString();
}
