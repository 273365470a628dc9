import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { OperationError } from '../core/errors.js';

/**
 * A source whose backup is one byte stream (a database dump, a base backup, a
 * command's output). The stream is chunked, deduplicated and stored as one file of
 * the snapshot, so restore, verify, copy and prune treat it like any other file.
 */
export interface StreamCapture {
  /** The file's name inside the snapshot ('app.pgdump', 'base.tar'). */
  name: string;
  /** What the snapshot's `paths` shows for it ('postgres://db.internal/app'), with no secret in it. */
  describe: string;
  stream: Readable;
  /** Settles when the producer has ended: rejects with its one-line error when it failed. */
  finished: Promise<void>;
  /** Facts recorded in the snapshot once the stream has ended (WAL positions, binlog coordinates). */
  meta?: () => Record<string, unknown>;
}

/** Where `restore --target-db` / `--pipe` sends a stream source's backup. */
export interface StreamRestoreTarget {
  /** A database to restore into (created when missing). */
  database?: string | undefined;
  /** Pipe into the source's configured restore command. */
  pipe?: boolean | undefined;
  /** Replace what the database already holds; without it a database with tables is refused. */
  force?: boolean | undefined;
}

export interface StreamSource {
  capture(signal?: AbortSignal): Promise<StreamCapture>;
  /** Feeds a backup's content to the database or command; resolves with a line saying what was done. */
  restore?(content: Readable, target: StreamRestoreTarget, signal?: AbortSignal): Promise<string>;
}

/**
 * Settles when a tool ends: resolves on exit 0, else rejects with one line naming the
 * tool, how it ended and the last line it printed on stderr. `failure()` may name an
 * earlier cause (the data fed to it could not be read), which then wins.
 */
function supervise(what: string, command: string, child: ChildProcess, signal: AbortSignal | undefined, failure: () => Error | undefined = () => undefined): Promise<void> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    // Only the tail matters for the message; keep memory bounded whatever the tool prints.
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const onAbort = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new OperationError(`${what}: cannot run ${command}: ${err.message}`, { cause: err })));
    child.on('close', (code, killedBy) => {
      signal?.removeEventListener('abort', onAbort);
      const earlier = failure();
      if (earlier) return reject(earlier);
      if (code === 0) return resolve();
      const last = stderr.trim().split('\n').filter(Boolean).at(-1) ?? '';
      reject(new OperationError(`${what}: ${command} ${killedBy ? `was killed by ${killedBy}` : `exited with ${code}`}${last ? `: ${last}` : ''}`));
    });
  });
}

/**
 * Runs a command with `content` on its stdin; rejects with its one-line error. Used by
 * restores into databases and restore commands.
 */
export async function feedCommand(what: string, command: string, args: string[], content: Readable, opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal | undefined } = {}): Promise<void> {
  const child = spawn(command, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'ignore', 'pipe'] });
  // A backup that cannot be read (a damaged blob) stops the command; that error is the one to report.
  let contentError: Error | undefined;
  content.on('error', (err) => {
    contentError = err;
    child.kill('SIGTERM');
  });
  const exited = supervise(what, command, child, opts.signal, () => contentError);
  // A consumer that exits early closes its stdin: that is its error to report, not EPIPE.
  child.stdin.on('error', () => undefined);
  content.pipe(child.stdin);
  await exited;
}

/**
 * Runs a command and hands its stdout over as the stream. Its exit status decides
 * whether the capture succeeded: a dump that stops half-way must not become a backup.
 */
export function captureCommand(what: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal | undefined }): { stream: Readable; finished: Promise<void> } {
  const child = spawn(command, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const finished = supervise(what, command, child, opts.signal);
  // The archiver may stop reading early (an error elsewhere): the failure then comes from there.
  finished.catch(() => undefined);
  return { stream: child.stdout, finished };
}

export /** The first of `names` that is an executable in PATH, by name: messages then say `mariadb-dump exited with 2`. */
function findOnPath(...names: string[]): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return name;
      } catch {
        // Not in this directory.
      }
    }
  }
  return undefined;
}
