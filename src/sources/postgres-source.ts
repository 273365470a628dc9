import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { promisify } from 'node:util';
import type { BkdrSource } from '../config/schema.js';
import { OperationError, UsageError } from '../core/errors.js';
import { captureCommand, feedCommand, findOnPath, type StreamCapture, type StreamRestoreTarget, type StreamSource } from './stream-source.js';

export type PostgresConfig = Extract<BkdrSource, { type: 'postgres' }>;

/**
 * PostgreSQL. Logical mode streams `pg_dump -Fc` into the repository (no temporary
 * file) and restores with pg_restore into a named database. Physical mode streams
 * `pg_basebackup` as a tar; the WAL that makes it consistent and carries it forward
 * comes from `bkdr wal push` in archive_command (see wal-archive.ts), and point-in-time
 * restore is src/backup/postgres-pitr.ts. Passwords go to the tools through PGPASSWORD,
 * never on a command line, in a log or in the snapshot.
 */
export function postgresSource(name: string, config: PostgresConfig, configDir: string): StreamSource {
  const conn = connection(name, config, configDir);
  return {
    async capture(signal?: AbortSignal): Promise<StreamCapture> {
      if (config.mode === 'physical') {
        const run = captureCommand(
          `source ${name}`,
          postgresTool('pg_basebackup'),
          ['-D', '-', '-F', 'tar', '-X', 'none', '--checkpoint=fast', '--no-password', '-l', `bkdr ${name}`, ...conn.args({ replication: true })],
          {
            env: conn.env,
            signal,
          },
        );
        // The start position is in the backup_label at the head of the tar (pg_basebackup -D - prints none).
        const label = watchHead(run.stream, 1024 * 1024);
        return { name: 'base.tar', describe: conn.describe, stream: label.stream, finished: run.finished, meta: () => baseBackupPositions(label.head()) };
      }
      // Uncompressed: the repository compresses, and an uncompressed dump deduplicates against yesterday's.
      const run = captureCommand(`source ${name}`, postgresTool('pg_dump'), ['-Fc', '-Z0', '--no-password', ...conn.args({})], { env: conn.env, signal });
      return { name: `${conn.database ?? name}.pgdump`, describe: conn.describe, stream: run.stream, finished: run.finished };
    },

    async restore(content: Readable, target: StreamRestoreTarget, signal?: AbortSignal): Promise<string> {
      if (config.mode === 'physical') {
        throw new UsageError(`source ${name} is a physical backup: it restores as a data directory, at a point in time if one is given`, { remedy: { option: 'target', to: 'restore it into' } });
      }
      if (!target.database) {
        throw new UsageError(`restoring source ${name} into PostgreSQL needs a database`, {
          remedy: [
            { option: 'targetDatabase', to: 'restore into it' },
            { option: 'target', to: 'get the dump file' },
          ],
        });
      }
      const relations = await ensureDatabase(name, conn, target.database);
      if (relations > 0 && !target.force) {
        content.destroy();
        throw new UsageError(`source ${name}: database ${target.database} already holds ${relations} table(s), view(s) or sequence(s), which the restore would replace`, {
          remedy: { option: 'force', to: 'replace them, or restore into a new database' },
        });
      }
      // --force: what the dump recreates is dropped first (--clean), and only that.
      const replace = relations > 0 ? ['--clean', '--if-exists'] : [];
      await feedCommand(`restore of ${name}`, postgresTool('pg_restore'), ['--no-owner', '--no-password', '--exit-on-error', ...replace, ...conn.args({ database: target.database })], content, {
        env: conn.env,
        signal,
      });
      return `pg_restore into database ${target.database}`;
    },
  };
}

export interface Connection {
  env: NodeJS.ProcessEnv;
  database: string | undefined;
  describe: string;
  args(opts: { replication?: boolean; database?: string }): string[];
}

/** The libpq options and environment (PGPASSWORD) of a postgres source, for any of the PostgreSQL client tools. */
export function connection(name: string, config: PostgresConfig, configDir: string): Connection {
  let host = config.host;
  let port = config.port;
  let user = config.user;
  let database = config.database;
  let password = config.password;
  if (config.url) {
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new UsageError(`sources.${name}.url: not a postgres:// URL`);
    }
    host ??= decodeURIComponent(url.hostname) || undefined;
    port ??= url.port ? Number(url.port) : undefined;
    user ??= url.username ? decodeURIComponent(url.username) : undefined;
    password ??= url.password ? decodeURIComponent(url.password) : undefined;
    database ??= url.pathname.replace(/^\//, '') ? decodeURIComponent(url.pathname.replace(/^\//, '')) : undefined;
    // A socket directory can come as ?host=/run/postgresql.
    host = url.searchParams.get('host') ?? host;
  }
  if (config.passwordFile) {
    const file = resolve(configDir, config.passwordFile);
    try {
      password = readFileSync(file, 'utf8').split(/\r?\n/)[0];
    } catch (err) {
      throw new UsageError(`sources.${name}.passwordFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  const env: NodeJS.ProcessEnv = { ...(password ? { PGPASSWORD: password } : {}) };
  const base = [...(host ? ['-h', host] : []), ...(port ? ['-p', String(port)] : []), ...(user ? ['-U', user] : [])];
  return {
    env,
    database,
    describe: `postgres://${user ? `${user}@` : ''}${host?.startsWith('/') ? `[${host}]` : (host ?? 'localhost')}${port ? `:${port}` : ''}/${database ?? ''}`,
    args: ({ replication, database: override }) => {
      if (replication) return base;
      const db = override ?? database;
      return [...base, ...(db ? ['-d', db] : [])];
    },
  };
}

/** Tables, views, sequences and foreign tables outside the system schemas. */
const USER_RELATIONS =
  "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'";

/** Creates the database when missing; returns how many tables, views and sequences it already holds. */
async function ensureDatabase(name: string, conn: Connection, database: string): Promise<number> {
  const psql = postgresTool('psql');
  const args = ['--no-password', '-v', 'ON_ERROR_STOP=1', '-tA'];
  const options = { env: { ...process.env, ...conn.env } };
  const run = promisify(execFile);
  try {
    const { stdout } = await run(psql, [...conn.args({ database: 'postgres' }), ...args, '-c', `SELECT 1 FROM pg_database WHERE datname = '${database.replace(/'/g, "''")}'`], options);
    if (stdout.trim() !== '1') {
      await run(psql, [...conn.args({ database: 'postgres' }), ...args, '-c', `CREATE DATABASE "${database.replace(/"/g, '""')}"`], options);
      return 0;
    }
    const { stdout: count } = await run(psql, [...conn.args({ database }), ...args, '-c', USER_RELATIONS], options);
    return Number(count.trim());
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message)
      .trim()
      .split('\n')
      .at(-1);
    throw new OperationError(`restore of ${name}: cannot create or inspect database ${database}: ${stderr}`, { cause: err });
  }
}

/** START WAL LOCATION / START TIMELINE from the backup_label inside the base backup. */
function baseBackupPositions(head: string): Record<string, unknown> {
  const start = /START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)/.exec(head);
  const timeline = /START TIMELINE: (\d+)/.exec(head);
  return { mode: 'physical', ...(start ? { startLsn: start[1], startWalFile: start[2] } : {}), ...(timeline ? { timeline: Number(timeline[1]) } : {}) };
}

/** Passes a stream through unchanged while keeping a copy of its first `limit` bytes. */
function watchHead(source: Readable, limit: number): { stream: Readable; head: () => string } {
  const parts: Buffer[] = [];
  let kept = 0;
  const stream = source.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (kept < limit) {
          parts.push(chunk.subarray(0, limit - kept));
          kept += Math.min(chunk.length, limit - kept);
        }
        done(null, chunk);
      },
    }),
  );
  source.on('error', (err) => stream.destroy(err));
  return { stream, head: () => Buffer.concat(parts).toString('latin1') };
}

/**
 * A PostgreSQL client tool: from PATH (Debian's wrappers pick the cluster's version),
 * else the newest /usr/lib/postgresql/<version>/bin.
 */
export function postgresTool(tool: string): string {
  if (findOnPath(tool)) return tool;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(root, v, 'bin', tool))) return join(root, v, 'bin', tool);
  }
  return tool;
}
