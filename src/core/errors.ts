import { ExitCode } from './exit-codes.js';

/**
 * What a caller can set to get past an error, by the library's name for it: `force` is
 * the permission to overwrite or replace what is there, `target` a directory (or file) to
 * restore to, `targetDatabase` a database to restore into, `pipe` feeding a backup to its
 * source's restore command, `archive` a .tar.gz/.zip to export to, `lockWait` a time to
 * wait for another run's lock, `source` which source is meant, `config` which config file,
 * `newPasswordFile` a file holding the new password of `key add` / `key passwd`,
 * `catalogRebuild` rebuilding the catalog from the repositories (a damaged one is kept aside).
 * Never a front end's syntax: each front end words its own hint from it (the CLI, a flag).
 */
export type Setting = 'force' | 'target' | 'targetDatabase' | 'pipe' | 'archive' | 'lockWait' | 'source' | 'config' | 'newPasswordFile' | 'catalogRebuild';

/** One way past an error: a setting, and what the operation can do once it is set. */
export interface Remedy {
  option: Setting;
  /** A verb phrase in the domain's words ('restore into it'); every front end ends its hint with it. */
  to?: string;
}

export interface BkdrErrorOptions extends ErrorOptions {
  /** The way, or the alternative ways, past the error. */
  remedy?: Remedy | readonly Remedy[] | undefined;
}

/** How the library's own messages word each setting; the CLI has its own table (flags). */
const DOMAIN_WORDS: Record<Setting, string> = {
  force: 'allow overwriting',
  target: 'name a target directory',
  targetDatabase: 'name a target database',
  pipe: "pipe it into the source's restore command",
  archive: 'name an archive file',
  lockWait: 'retry later, or wait for the lock',
  source: 'name the source',
  config: 'create one, or name the config file',
  newPasswordFile: 'name a file holding it',
  catalogRebuild: 'rebuild the catalog from the repositories',
};

/**
 * The remedies as one clause, each setting in `words`: `allow overwriting to restore into
 * it`, or with the CLI's words `pass --force to restore into it`.
 */
function describeRemedies(remedies: readonly Remedy[], words: Record<Setting, string>): string {
  return remedies.map((r) => (r.to ? `${words[r.option]} to ${r.to}` : words[r.option])).join(', or ');
}

/** The statement and its remedies as one line: after a statement ending in ':' the remedy follows it, else after '; '. */
export function withRemedies(statement: string, remedies: readonly Remedy[], words: Record<Setting, string>): string {
  if (remedies.length === 0) return statement;
  return `${statement}${statement.endsWith(':') ? ' ' : '; '}${describeRemedies(remedies, words)}`;
}

/**
 * The root of every error bkdr raises on purpose. The message is one human line in the
 * domain's words, ending with its remedies (`allow overwriting to restore into it`); the
 * CLI prints the statement with its own hint instead (`pass --force to restore into it`)
 * and exits with `exitCode`. Low-level errors travel as `cause`.
 */
export class BkdrError extends Error {
  /** The message without its remedies: what a front end puts before its own hint. */
  readonly statement: string;
  /** What the caller could set to get past the error; empty when no setting would. */
  readonly remedies: readonly Remedy[];

  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: BkdrErrorOptions,
  ) {
    const remedy = options?.remedy;
    const remedies = remedy === undefined ? [] : 'option' in remedy ? [remedy] : remedy;
    super(withRemedies(message, remedies, DOMAIN_WORDS), options);
    this.name = new.target.name;
    this.statement = message;
    this.remedies = remedies;
  }
}

/** The operation failed and produced nothing usable. */
export class OperationError extends BkdrError {
  constructor(message: string, options?: BkdrErrorOptions) {
    super(message, ExitCode.Failed, options);
  }
}

/** Bad flags, bad arguments, a missing confirmation or password; `remedy` names what to set instead. */
export class UsageError extends BkdrError {
  constructor(message: string, options?: BkdrErrorOptions) {
    super(message, ExitCode.Usage, options);
  }
}

/** A config value is missing or wrong; `path` is the field path (`destinations[1].config.bucket`). */
export class ConfigError extends BkdrError {
  constructor(
    readonly path: string,
    readonly problem: string,
    options?: BkdrErrorOptions,
  ) {
    super(path ? `${path}: ${problem}` : problem, ExitCode.Usage, options);
  }
}

export class WrongPasswordError extends BkdrError {
  constructor(destination: string, options?: ErrorOptions) {
    super(`wrong password for destination ${destination}`, ExitCode.Usage, options);
  }
}

export class PartialFailureError extends BkdrError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Partial, options);
  }
}

/** Another run holds a conflicting lock; the remedy is usually `lockWait`. */
export class LockedError extends BkdrError {
  constructor(message: string, options?: BkdrErrorOptions) {
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
