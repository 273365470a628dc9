/** Exit codes of CLI.md; scripts and cron jobs depend on these numbers. */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Partial: 3,
  Locked: 4,
  Damaged: 5,
  Threshold: 6,
  Interrupted: 130,
  /**
   * `wal fetch` could not fetch a file that may be archived. PostgreSQL reads every exit code
   * up to 125 as "not archived" and would end recovery there, early; above 125 it stops.
   */
  WalFetchFailed: 255,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
