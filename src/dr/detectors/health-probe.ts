import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type * as z from 'zod';
import type { healthCheckSchema } from '../../config/dr-schema.js';
import { deadlineSignal, untilAborted } from '../../core/deadline-signal.js';
import { parseTarget } from '../tcp-step.js';

export type HealthCheck = z.output<typeof healthCheckSchema>;
export type SqlCheck = Extract<HealthCheck, { type: 'sql' }>;
/** Runs a sql check's query; rejects when it fails. Absent where no database client is wired. */
export type RunSql = (check: SqlCheck, signal: AbortSignal) => Promise<void>;

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

function reason(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Signals the whole process group the shell leads; it may be gone already. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left.
  }
}

function probeHttp(check: Extract<HealthCheck, { type: 'http' }>, signal: AbortSignal): Promise<string> {
  const method = check.method ?? 'GET';
  return fetch(check.url, { method, signal }).then(async (res) => {
    await res.body?.cancel();
    const expected = check.expectStatus === undefined ? res.status >= 200 && res.status < 300 : res.status === check.expectStatus;
    if (!expected) throw new Error(`${method} ${check.url} answered ${res.status}, expected ${check.expectStatus ?? '2xx'}`);
    return `${method} ${check.url} answered ${res.status}`;
  });
}

function probeTcp(target: string, signal: AbortSignal): Promise<string> {
  const { host, port } = parseTarget(target);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const onAbort = () => {
      socket.destroy();
      reject(new Error(`no connection to ${target} in time`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(`connected to ${target}`);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(new Error(`cannot connect to ${target}: ${err.code ?? err.message}`));
    });
  });
}

/** `/bin/sh -c command` in its own process group, so a timeout kills what it started too; exit 0 is healthy. */
function probeCommand(command: string, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore', detached: true });
    const onAbort = () => {
      if (child.pid !== undefined) killGroup(child.pid);
      reject(new Error(`command did not finish in time`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new Error(`cannot run /bin/sh: ${err.message}`));
    });
    child.once('exit', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (code === 0) resolve('command exited with code 0');
      else reject(new Error(sig ? `command was killed by ${sig}` : `command exited with code ${code}`));
    });
  });
}

/** One sample of a health check, bounded by `timeoutMs`; never rejects: a failure is a sample too. */
export async function probeHealth(check: HealthCheck, timeoutMs: number, runSql: RunSql | undefined, outer: AbortSignal): Promise<ProbeResult> {
  const deadline = deadlineSignal(outer, timeoutMs);
  const signal = deadline.signal;
  const started = performance.now();
  try {
    const detail = await untilAborted(probe(check, runSql, signal), signal);
    return { ok: true, latencyMs: performance.now() - started, detail };
  } catch (err) {
    const timedOut = signal.aborted && !outer.aborted;
    return { ok: false, latencyMs: performance.now() - started, detail: timedOut ? `no answer within ${timeoutMs} ms` : reason(err) };
  } finally {
    deadline.clear();
  }
}

async function probe(check: HealthCheck, runSql: RunSql | undefined, signal: AbortSignal): Promise<string> {
  switch (check.type) {
    case 'http':
      return probeHttp(check, signal);
    case 'tcp':
      return probeTcp(check.target, signal);
    case 'command':
      return probeCommand(check.command, signal);
    case 'sql':
      if (!runSql) throw new Error('sql health checks need a database client, and none is wired into this process');
      await runSql(check, signal);
      return `${check.query} succeeded`;
  }
}
