import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ExitCode } from '../core/exit-codes.js';
import { walStamp, WalSpool } from './wal-spool.js';

/**
 * The command PostgreSQL runs per WAL file in asynchronous mode, as pgBackRest's
 * archive-async: it hands the file to the spool's worker and answers from the spool,
 * loading nothing of bkdr but this module (a start of the whole CLI took most of a
 * synchronous push's time). bin/bkdr.js calls it before the CLI loads.
 *
 * - `wal push --async --spool <dir> %p`: exit 0 once `push/<name>.ok` says the file is stored
 *   on every destination. The worker stores the files PostgreSQL has marked ready ahead of
 *   being asked (pg_wal/archive_status/*.ready), so most calls find their `.ok` at once.
 * - `wal fetch --async --spool <dir> %f %p`: rename the staged, verified file into place; the
 *   worker fetches the next segments before PostgreSQL asks for them.
 */
export interface AsyncWalCall {
  op: 'push' | 'fetch';
  /** The global options before `wal` (-c, -q, ...), passed on to the worker. */
  globals: string[];
  spool: string;
  source?: string;
  timeoutMs: number;
  prefetch?: number;
  /** push: the WAL file; fetch: the name asked for and where it goes. */
  path: string;
  name: string;
}

const VALUE_OPTIONS = ['--spool', '--source', '--timeout', '--prefetch'];
const FLAGS_WITHOUT_VALUE = new Set(['-q', '--quiet', '-v', '--verbose', '--json', '-y', '--yes', '--no-color']);
const DEFAULT_TIMEOUT_S = { push: 60, fetch: 300 };
export const DEFAULT_PREFETCH = 8;

/**
 * The call in `args` (process.argv after the script) when it is an asynchronous push or fetch
 * this module can answer on its own; undefined for anything else (the CLI takes it, and says
 * what is wrong with it).
 */
export function parseAsyncWalCall(args: readonly string[]): AsyncWalCall | undefined {
  const at = args.indexOf('wal');
  const op = args[at + 1];
  if (at < 0 || (op !== 'push' && op !== 'fetch')) return undefined;
  const globals: string[] = [];
  for (let i = 0; i < at; i++) {
    const a = args[i]!;
    if (FLAGS_WITHOUT_VALUE.has(a) || a.startsWith('--config=')) globals.push(a);
    else if ((a === '-c' || a === '--config') && i + 1 < at) globals.push(a, args[++i]!);
    else return undefined;
  }
  const options: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = at + 2; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--async') options['async'] = true;
    else if (a.includes('=') && VALUE_OPTIONS.includes(a.slice(0, a.indexOf('=')))) options[a.slice(2, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);
    else if (VALUE_OPTIONS.includes(a) && i + 1 < args.length) options[a.slice(2)] = args[++i]!;
    else if (a.startsWith('-')) return undefined;
    else positional.push(a);
  }
  if (options['async'] !== true || typeof options['spool'] !== 'string') return undefined;
  if (positional.length !== (op === 'push' ? 1 : 2)) return undefined;
  // A file name, nothing that could reach outside the spool's directories.
  const asked = op === 'push' ? basename(positional[0]!) : positional[0]!;
  if (!/^[0-9A-Za-z._-]{1,255}$/.test(asked) || asked.startsWith('.') || asked.startsWith('worker.')) return undefined;
  const timeout = options['timeout'] === undefined ? DEFAULT_TIMEOUT_S[op] : Number(options['timeout']);
  const prefetch = options['prefetch'] === undefined ? DEFAULT_PREFETCH : Number(options['prefetch']);
  if (!(timeout > 0 && timeout <= 86_400) || !Number.isInteger(prefetch) || prefetch < 1) return undefined;
  const path = resolve(op === 'push' ? positional[0]! : positional[1]!);
  return {
    op,
    globals,
    spool: resolve(options['spool']),
    ...(typeof options['source'] === 'string' ? { source: options['source'] } : {}),
    timeoutMs: timeout * 1000,
    prefetch,
    path,
    name: op === 'push' ? basename(path) : positional[0]!,
  };
}

/** Runs the call; returns the exit code (messages go to stderr, as the CLI's do). */
export async function runAsyncWalCall(call: AsyncWalCall, bin: string): Promise<number> {
  try {
    return call.op === 'push' ? await push(call, bin) : await fetch(call, bin);
  } catch (err) {
    // The spool itself failed (not writable, disk full): PostgreSQL retries the command.
    return fail(`wal ${call.op} ${call.name}: spool ${call.spool}: ${(err as Error).message}`, failedCode(call));
  }
}

/** Any failure but "not archived" stops a recovery (ExitCode.WalFetchFailed), rather than ending it at this file. */
const failedCode = (call: AsyncWalCall, code: number = ExitCode.Failed) => (call.op === 'fetch' ? ExitCode.WalFetchFailed : code);

const POLL_MS = 5;
/** How often a waiting command checks that the worker still runs (it may have ended just before the request). */
const WORKER_CHECK_MS = 250;
/** A worker started takes a Node start and a key derivation to hold its lock: not started twice meanwhile. */
const WORKER_START_MS = 10_000;

async function push(call: AsyncWalCall, bin: string): Promise<number> {
  const spool = new WalSpool(call.spool, 'push');
  let stamp: string;
  try {
    stamp = walStamp(statSync(call.path, { bigint: true }));
  } catch (err) {
    return fail(`cannot read WAL file ${call.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.Usage);
  }
  const ok = spool.path(`${call.name}.ok`);
  const queued = join(spool.queueDir, call.name);
  const errorFile = spool.path(`${call.name}.error`);
  /** Whether the .ok is this file's: another file of the same name (a cluster made again) is not stored by it. */
  const acknowledgement = (): 'stored' | 'other' | 'none' => {
    const found = spool.read(ok);
    if (found === undefined) return 'none';
    spool.remove(ok);
    return found === stamp ? 'stored' : 'other';
  };
  if (acknowledgement() === 'stored') return ExitCode.Ok;
  spool.ensure();
  spool.remove(errorFile);
  spool.writeAtomic(queued, call.path);
  return waitFor(call, spool, bin, () => {
    const ack = acknowledgement();
    if (ack === 'stored') {
      // Stored as a ready file read ahead while this request waited: the request is answered too.
      spool.remove(queued);
      return ExitCode.Ok;
    }
    const failure = spool.readFailure(errorFile);
    if (failure) {
      spool.remove(errorFile);
      return fail(failure.message, failure.code);
    }
    // A stale .ok, or the worker took the request and its answer went astray: asked again (a push is idempotent).
    if (ack === 'other' || !existsSync(queued)) spool.writeAtomic(queued, call.path);
    return undefined;
  });
}

async function fetch(call: AsyncWalCall, bin: string): Promise<number> {
  const spool = new WalSpool(call.spool, 'fetch');
  const staged = spool.path(call.name);
  // Only a live worker's staging counts: after a crash, the next worker clears what it left.
  const takeStaged = () => existsSync(staged) && spool.workerAlive() && handOver(staged, call.path);
  if (takeStaged()) return ExitCode.Ok;
  spool.ensure();
  const missing = spool.path(`${call.name}.missing`);
  const error = spool.path(`${call.name}.error`);
  spool.remove(missing);
  spool.remove(error);
  const wanted = join(spool.queueDir, call.name);
  spool.writeAtomic(wanted, '');
  return waitFor(call, spool, bin, () => {
    if (takeStaged()) {
      // Staged as read ahead while this request waited: it is answered too.
      spool.remove(wanted);
      return ExitCode.Ok;
    }
    if (existsSync(missing)) {
      spool.remove(missing);
      // As the synchronous fetch: PostgreSQL asks for files that may not exist (the next timeline's history).
      if (!call.globals.some((g) => g === '-q' || g === '--quiet')) process.stderr.write(`wal fetch: ${call.name} is not archived\n`);
      return ExitCode.Failed;
    }
    const failure = spool.readFailure(error);
    if (failure) {
      spool.remove(error);
      return fail(failure.message, failedCode(call, failure.code));
    }
    // Taken off the queue without an answer (a worker that ended meanwhile): asked again.
    if (!existsSync(wanted)) spool.writeAtomic(wanted, '');
    return undefined;
  });
}

/**
 * Polls `check` until it gives an exit code, starting the worker when none runs and
 * answering its start-up failure; gives up after the call's timeout.
 */
async function waitFor(call: AsyncWalCall, spool: WalSpool, bin: string, check: () => number | undefined): Promise<number> {
  // Said by a worker started for an earlier command that no longer waited: not this one's answer.
  if (!spool.workerAlive()) spool.remove(spool.path('worker.error'));
  const deadline = performance.now() + call.timeoutMs;
  let nextWorkerCheck = 0;
  let startedAt = -WORKER_START_MS;
  for (;;) {
    const code = check();
    if (code !== undefined) return code;
    const now = performance.now();
    if (now >= nextWorkerCheck) {
      nextWorkerCheck = now + WORKER_CHECK_MS;
      if (!spool.workerAlive()) {
        const failure = spool.readFailure(spool.path('worker.error'));
        if (failure) {
          spool.remove(spool.path('worker.error'));
          return fail(failure.message, failedCode(call, failure.code));
        }
        if (now - startedAt >= WORKER_START_MS) {
          startedAt = now;
          startWorker(call, spool, bin);
        }
      }
    }
    if (now >= deadline) return fail(`wal ${call.op} ${call.name}: no answer from the spool's worker within ${call.timeoutMs / 1000} s (its log: ${spool.path('worker.log')})`, failedCode(call));
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function startWorker(call: AsyncWalCall, spool: WalSpool, bin: string): void {
  const args = [bin, ...call.globals, 'wal', `${call.op}-worker`, '--spool', call.spool];
  if (call.source) args.push('--source', call.source);
  if (call.op === 'fetch') args.push('--prefetch', String(call.prefetch ?? DEFAULT_PREFETCH));
  // Its warnings (why a file failed) go to the spool's worker.log, which the timeout message names.
  const log = openSync(spool.path('worker.log'), 'a', 0o600);
  try {
    // Detached and in its own session: PostgreSQL waits for this command, not for the worker. In this
    // command's directory, as bkdr-wal starts it: a relative config or password file means the same.
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
    child.on('error', (err) => spool.writeFailure(spool.path('worker.error'), ExitCode.Failed, `cannot start the spool's worker: ${err.message}`));
    child.unref();
  } finally {
    closeSync(log);
  }
}

/** Moves the staged file to PostgreSQL's target; false when it went first (the worker cleaned up). */
function handOver(staged: string, target: string): boolean {
  try {
    renameSync(staged, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code !== 'EXDEV') throw err;
  }
  // The spool on another file system than pg_wal: copied under a temporary name, renamed, then the
  // staged file removed (the worker counts a file taken when it is gone).
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    copyFileSync(staged, temp);
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  rmSync(staged, { force: true });
  return true;
}

function fail(message: string, code: number): number {
  process.stderr.write(`bkdr: ${message}\n`);
  return code;
}
