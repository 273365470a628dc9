import { ExitCode } from './exit-codes.js';

/**
 * The root of every error bkdr raises on purpose. The message is one human line;
 * the CLI prints it and exits with `exitCode`. Low-level errors travel as `cause`.
 */
export class BkdrError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The operation failed and produced nothing usable. */
export class OperationError extends BkdrError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Failed, options);
  }
}

/** Bad flags, bad arguments, a missing confirmation or password. */
export class UsageError extends BkdrError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Usage, options);
  }
}

/** A config value is missing or wrong; `path` is the field path (`destinations[1].config.bucket`). */
export class ConfigError extends BkdrError {
  constructor(
    readonly path: string,
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(path ? `${path}: ${problem}` : problem, ExitCode.Usage, options);
  }
}

export class WrongPasswordError extends BkdrError {
  constructor(destination: string, options?: ErrorOptions) {
    super(`wrong password for destination ${destination}`, ExitCode.Usage, options);
  }
}

/** A command that is part of the contract but not built yet; never fakes output. */
export class NotAvailableError extends BkdrError {
  constructor(command: string) {
    super(`${command}: not available yet`, ExitCode.Usage);
  }
}

export class PartialFailureError extends BkdrError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Partial, options);
  }
}

export class LockedError extends BkdrError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Locked, options);
  }
}

/** Verification or an audit check found damage; the message names what is affected. */
export class IntegrityError extends BkdrError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Damaged, options);
  }
}

export class ThresholdError extends BkdrError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Threshold, options);
  }
}

export class InterruptedError extends BkdrError {
  constructor(message = 'interrupted', options?: ErrorOptions) {
    super(message, ExitCode.Interrupted, options);
  }
}

export function isBkdrError(err: unknown): err is BkdrError {
  return err instanceof BkdrError;
}
