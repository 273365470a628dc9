import type { AuditLog } from '../catalog/audit-log.js';
import type { RunLogsTable, RunStatus, RunsTable } from '../catalog/runs-table.js';
import { InterruptedError } from '../core/errors.js';

/** The catalog stores a recorded run writes to. */
export interface RunStores {
  runs: RunsTable;
  runLogs: RunLogsTable;
  audit: AuditLog;
}

export interface RunStart {
  kind: string;
  source?: string;
  destinations?: string[];
  strategy?: string;
  /** When the run began, if before its row is written (a password prompt, a lock wait). */
  startedAt?: Date;
}

export interface RecordedRun {
  readonly id: string;
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

/** How a run that returned ended: its status, error line, summary, and the audit row it leaves. */
export interface RunOutcome {
  status: Exclude<RunStatus, 'running' | 'died'>;
  error?: string | undefined;
  summary?: unknown;
  audit?: { action: string; target: string; payload?: Record<string, unknown> } | undefined;
}

/**
 * One run of an operation, start to finish (DESIGN.md "the run recorder"): its row is
 * written before the work (after `ready`, when given), its log lines go to the run, and
 * whatever way the work ends, the run ends with it: `interrupted` on an interrupt,
 * `failed` on any other error (the error's message is its error), else the outcome's
 * status, with its audit row. `cleanup` (closing the operation's repositories) runs on
 * every path, after the work and before the row is finished, so no run is left
 * `running` and no lock is left held. A process killed outright is the catalog's to
 * notice (`died`).
 */
export async function withRun<T>(
  stores: RunStores,
  opts: {
    start: RunStart;
    /** Waited for before the row is written; a failure here writes no row. */
    ready?: () => Promise<void>;
    work: (run: RecordedRun) => Promise<T>;
    outcome: (result: T, run: RecordedRun) => RunOutcome;
    cleanup?: () => Promise<void>;
    /** The log line of an interrupted run, when it should say more than "interrupted". */
    interruptedNote?: string;
    /** Told the run's id once its row is written, before the work: a caller that returns at once hands it out. */
    onCreated?: ((runId: string) => void) | undefined;
  },
): Promise<T> {
  let id: string;
  try {
    await opts.ready?.();
    id = stores.runs.start(opts.start);
  } catch (err) {
    await opts.cleanup?.();
    throw err;
  }
  const run: RecordedRun = { id, log: (level, message, fields) => stores.runLogs.append(id, level, message, fields) };
  opts.onCreated?.(id);
  let result: T;
  try {
    result = await opts.work(run);
  } catch (err) {
    await opts.cleanup?.().catch(() => undefined);
    const interrupted = err instanceof InterruptedError;
    const message = err instanceof Error ? err.message : String(err);
    try {
      run.log(interrupted ? 'warn' : 'error', interrupted ? (opts.interruptedNote ?? 'interrupted') : message);
      stores.runs.finish(id, { status: interrupted ? 'interrupted' : 'failed', error: interrupted ? 'interrupted' : message });
    } catch {
      // The catalog failing too must not hide the error that ended the run; the next command marks it died.
    }
    throw err;
  }
  await opts.cleanup?.();
  const outcome = opts.outcome(result, run);
  stores.runs.finish(id, { status: outcome.status, ...(outcome.error !== undefined ? { error: outcome.error } : {}), ...(outcome.summary !== undefined ? { summary: outcome.summary } : {}) });
  if (outcome.audit) stores.audit.append(outcome.audit);
  return result;
}
