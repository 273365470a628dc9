import type { BackupManager } from '../backup/backup-manager.js';
import type { DrStep } from '../config/dr-schema.js';
import type { BkdrConfig } from '../config/schema.js';
import { InterruptedError, OperationError, type BkdrErrorOptions } from '../core/errors.js';

/** The steps of one type: `StepOfType<'http'>` has `url`, `method`, `expectStatus`. */
export type StepOfType<T extends DrStep['type']> = Extract<DrStep, { type: T }>;

export type StepLogLevel = 'error' | 'warn' | 'info' | 'debug';

/** What an executor may use besides its step. No terminal I/O: the log goes wherever the caller sends it. */
export interface StepContext {
  log(level: StepLogLevel, message: string, fields?: Record<string, unknown>): void;
  /** Executors run for real; a dry run never reaches them (it plans and preflights instead). */
  readonly dryRun: false;
  /** The backup service, for restore, backup and verify steps; absent where none is wired. */
  readonly backup?: BackupManager;
  /** The config, for steps that name a source (sql) or a destination; absent where none is wired. */
  readonly config?: BkdrConfig;
  /** Relative paths in the config resolve against this folder. */
  readonly configDir?: string;
  /** `dr trigger --at`: the point in time restore steps without their own `at` recover to. */
  readonly pointInTime?: Date;
  /** A long step (a restore) reports how far it is, so progress and ETA move while it runs. */
  reportProgress?(done: number, total: number): void;
  /** The execution the step belongs to, for messages (notify) and records. */
  readonly execution?: { id: string; scenarioId: string; scenarioName?: string };
}

/** What a successful step reports: a line for people, and values later steps or the record may read. */
export interface StepOutcome {
  detail?: string;
  output?: Record<string, unknown>;
}

/**
 * Runs one type of step. `run` rejects when the step failed, with an error whose message
 * says why in one line; it stops promptly when `signal` aborts (timeout or interruption)
 * and leaves nothing running behind. Timeouts, retries and `onFailure` are not its
 * business: the step runner applies them around any executor.
 */
export interface StepExecutor<S extends DrStep> {
  run(step: S, ctx: StepContext, signal: AbortSignal): Promise<StepOutcome>;
  /** Undoes what `run` did, for executors that know how; the step's own `rollback` steps are separate. */
  rollback?(step: S, ctx: StepContext, signal: AbortSignal): Promise<void>;
}

/** A step that failed for good: after its last attempt, or by timing out on it. */
export class StepFailedError extends OperationError {
  constructor(
    readonly stepId: string,
    readonly attempts: number,
    message: string,
    options?: BkdrErrorOptions,
  ) {
    super(message, options);
  }
}

/** The error an executor rejects with once its signal aborted: the abort's reason if it is an error. */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new InterruptedError();
}
