import { spawn } from 'node:child_process';
import { OperationError, UsageError } from '../core/errors.js';
import { mysqlConnection } from '../sources/mysql-source.js';
import { connection as postgresConnection, postgresTool } from '../sources/postgres-source.js';
import { findOnPath } from '../sources/stream-source.js';
import { abortReason, type StepContext, type StepExecutor, type StepOfType, type StepOutcome } from './step-executor.js';

export type SqlStep = StepOfType<'sql'>;

/** How the query reaches the database: which client, with which arguments and environment. */
interface Client {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Between the columns of a row in its output. */
  separator: string;
}

/** The most of stdout kept: the first row is all the outcome reads, the rest is only counted. */
const STDOUT_BYTES = 64 * 1024;
const STDERR_BYTES = 8 * 1024;
/** After SIGTERM, how long the client has before SIGKILL. */
const KILL_GRACE_MS = 2_000;
/** psql's -A separator: a character no value of a health query holds, so the first column is never split wrong. */
const FIELD_SEPARATOR = '\x1f';

function postgresClient(query: string, conn: { args: string[]; env: NodeJS.ProcessEnv }): Client {
  return { command: postgresTool('psql'), args: [...conn.args, '--no-password', '-tAq', '-v', 'ON_ERROR_STOP=1', '-F', FIELD_SEPARATOR, '-c', query], env: conn.env, separator: FIELD_SEPARATOR };
}

function mysqlClient(query: string, conn: { args: string[]; env: NodeJS.ProcessEnv; database: string | undefined }): Client {
  const command = findOnPath('mariadb', 'mysql');
  if (!command) throw new OperationError('neither mariadb nor mysql is on PATH (install the MariaDB or MySQL client)');
  return { command, args: [...conn.args, ...(conn.database !== undefined ? [`--database=${conn.database}`] : []), '-N', '-B', '-e', query], env: conn.env, separator: '\t' };
}

/** The client for the step's `source` (a postgres or mysql source of the config) or its `url`. */
async function clientFor(step: SqlStep, ctx: StepContext): Promise<Client> {
  const configDir = ctx.configDir ?? process.cwd();
  if (step.source !== undefined) {
    if (!ctx.config) throw new OperationError(`step ${step.id}: source ${step.source} cannot be looked up: no config was given to the executor`);
    const source = ctx.config.sources[step.source];
    if (!source) throw new UsageError(`step ${step.id}: there is no source named ${step.source} in the config`);
    if (source.type === 'postgres') {
      const conn = postgresConnection(step.source, source, configDir);
      return postgresClient(step.query, { args: conn.args({}), env: conn.env });
    }
    if (source.type === 'mysql') return mysqlClient(step.query, await mysqlConnection(step.source, source, configDir));
    throw new UsageError(`step ${step.id}: source ${step.source} is a ${source.type} source; a sql step needs a postgres or mysql source`);
  }
  const url = step.url ?? '';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return postgresClient(step.query, postgresUrl(url));
  if (scheme === 'mysql' || scheme === 'mariadb') {
    if (!URL.canParse(url)) throw new UsageError(`step ${step.id}: url is not a mysql:// URL (mysql://user@host:port/database)`);
    return mysqlClient(step.query, await mysqlConnection(`step ${step.id}`, { type: 'mysql', url }, configDir));
  }
  throw new UsageError(`step ${step.id}: url must start with postgres://, postgresql://, mysql:// or mariadb://${scheme ? `, not ${scheme}://` : ''}`);
}

/**
 * psql takes the whole URL as its dbname, query parameters (sslmode, a socket's host) and
 * all. A password leaves it for PGPASSWORD, off the command line `ps` shows. Matched as
 * text, not parsed: libpq reads URLs WHATWG rejects (`postgresql://u:pw@/db?host=/run/postgresql`).
 */
function postgresUrl(url: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const userinfo = /^([a-z]+:\/\/[^:@/?#]*):([^@/?#]*)@/i.exec(url);
  if (!userinfo) return { args: ['-d', url], env: {} };
  const [whole, beforePassword = '', encoded = ''] = userinfo;
  let password = encoded;
  try {
    password = decodeURIComponent(encoded);
  } catch {
    // Not valid percent-encoding: taken as written.
  }
  return { args: ['-d', `${beforePassword}@${url.slice(whole.length)}`], env: { PGPASSWORD: password } };
}

/**
 * The line of stderr that says why: psql follows its ERROR line with `LINE 1: ...` and a
 * caret, and a refused connection with a hint, so the last line alone would say nothing.
 */
function reasonOf(stderr: string): string | undefined {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.filter((l) => /^(?:psql: )?(?:error|ERROR|FATAL|PANIC)\b/.test(l)).at(-1) ?? lines.at(-1);
}

/** Runs the client; resolves with its stdout (the head of it) and how many rows (lines) it printed. */
function runClient(client: Client, signal: AbortSignal): Promise<{ stdout: string; rows: number }> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const child = spawn(client.command, client.args, { env: { ...process.env, ...client.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = Buffer.alloc(0);
    let lines = 0;
    let lastByte: number | undefined;
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      if (stdout.length < STDOUT_BYTES) stdout = Buffer.concat([stdout, c]);
      for (const byte of c) if (byte === 0x0a) lines++;
      lastByte = c.at(-1);
    });
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-STDERR_BYTES)));

    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
    };
    child.on('error', (err) => {
      done();
      reject(new OperationError(`cannot run ${client.command}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      done();
      if (signal.aborted) return reject(abortReason(signal));
      if (code === 0) return resolve({ stdout: stdout.toString('utf8'), rows: lines + (lastByte !== undefined && lastByte !== 0x0a ? 1 : 0) });
      const why = reasonOf(stderr);
      reject(new OperationError(`${client.command} ${sig ? `was killed by ${sig}` : `exited with code ${code}`}${why ? `: ${why}` : ''}`));
    });
  });
}

/** The first column of the first row as the client prints it; null when there is no row. */
function firstValue(stdout: string, rows: number, separator: string): string | null {
  if (rows === 0) return null;
  const row = stdout.split('\n', 1)[0] ?? '';
  return row.split(separator, 1)[0] ?? '';
}

/** Whether the value the client printed is `expected`, in the sense of its JSON type. */
function matches(value: string | null, expected: string | number | boolean | null): boolean {
  if (expected === null) return value === null || value === '' || value === 'NULL';
  if (value === null) return false;
  if (typeof expected === 'number') return value.trim() !== '' && Number(value) === expected;
  if (typeof expected === 'boolean') return (expected ? ['t', 'true', '1'] : ['f', 'false', '0']).includes(value.trim().toLowerCase());
  return value === expected;
}

function describeValue(value: string | null): string {
  if (value === null) return 'no rows';
  return value === '' ? 'an empty value' : value;
}

/** The query as the detail names it: its first line, shortened. */
function describeQuery(query: string): string {
  const line = query.trim().split(/\r?\n/, 1)[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

/**
 * Runs `query` through the database's own client, as the sources do (psql, or mariadb /
 * mysql), against the config's `source` or a `url`. Succeeds when the client exits 0 and,
 * with `expect`, the first column of the first row equals it: numbers numerically,
 * booleans as t/true/1 or f/false/0, null as an empty value or NULL. psql prints a
 * multi-line value over several lines, so `rows` counts lines: exact for mariadb, whose
 * batch mode escapes newlines, and for the single-line values checks return.
 */
export const sqlStep: StepExecutor<SqlStep> = {
  async run(step: SqlStep, ctx: StepContext, signal: AbortSignal): Promise<StepOutcome> {
    if (signal.aborted) throw abortReason(signal);
    const client = await clientFor(step, ctx);
    ctx.log('debug', `running the query of step ${step.id} with ${client.command}`);
    const { stdout, rows } = await runClient(client, signal);
    const value = firstValue(stdout, rows, client.separator);
    if (step.expect !== undefined && !matches(value, step.expect)) throw new OperationError(`query returned ${describeValue(value)}, expected ${String(step.expect)}`);
    return { detail: `${describeQuery(step.query)} returned ${describeValue(value)}`, output: { value, rows } };
  },
};
