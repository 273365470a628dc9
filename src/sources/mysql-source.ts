import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable, Transform, type TransformCallback, pipeline } from 'node:stream';
import type { BkdrSource } from '../config/schema.js';
import { ConfigError, OperationError, type Remedy, UsageError } from '../core/errors.js';
import { captureCommand, feedCommand, findOnPath, type StreamCapture, type StreamRestoreTarget, type StreamSource } from './stream-source.js';

export type MysqlConfig = Extract<BkdrSource, { type: 'mysql' }>;

/** How far into a dump its binary log coordinates (`-- CHANGE MASTER TO ...`) are looked for. */
const HEAD_BYTES = 64 * 1024;
/** MariaDB writes the GTID position of `--master-data` at the very end of the dump. */
const TAIL_BYTES = 4 * 1024;
/** The dump's header names the dumped database within its first few lines. */
const HEADER_BYTES = 8 * 1024;
/** A dump restores into a database, or comes back as the file it is. */
const DATABASE_OR_FILE: readonly Remedy[] = [
  { option: 'targetDatabase', to: 'restore into it' },
  { option: 'target', to: 'get the dump file' },
];

interface Connection {
  host?: string | undefined;
  port?: number | undefined;
  socket?: string | undefined;
  user?: string | undefined;
  database?: string | undefined;
  /** From the URL; `password` and `passwordFile` take precedence. */
  urlPassword?: string | undefined;
}

/**
 * A MySQL or MariaDB server through `mariadb-dump` (or `mysqldump`): one consistent
 * logical dump (`--single-transaction`), with routines, triggers and events, of the
 * configured database or of every database. When the server writes a binary log, the
 * dump's binlog coordinates are recorded in the snapshot, the starting point for a
 * point-in-time recovery. Restores feed the dump into `mariadb` (or `mysql`).
 *
 * The password reaches the tools through MYSQL_PWD only: a command line is visible
 * to every user of the machine (`ps`), and `describe` ends up in the snapshot.
 */
export function mysqlSource(name: string, config: MysqlConfig, configDir: string): StreamSource {
  const what = `source ${name}`;
  const conn = connectionOf(name, config);

  const connect = () => mysqlConnection(name, config, configDir);

  /** Runs one statement; resolves with its rows as the client prints them in batch mode. */
  const query = async (label: string, client: string, args: string[], env: NodeJS.ProcessEnv, sql: string, signal: AbortSignal | undefined): Promise<string> => {
    const { stream, finished } = captureCommand(label, client, [...args, '--batch', '--skip-column-names', '-e', sql], { env, signal });
    let out = '';
    for await (const chunk of stream) out += (chunk as Buffer).toString();
    await finished;
    return out;
  };

  return {
    async capture(signal?: AbortSignal): Promise<StreamCapture> {
      const dump = findOnPath('mariadb-dump', 'mysqldump');
      if (!dump) throw new OperationError(`${what}: neither mariadb-dump nor mysqldump is on PATH (install the MariaDB or MySQL client)`);
      const client = findOnPath('mariadb', 'mysql');
      if (!client) throw new OperationError(`${what}: neither mariadb nor mysql is on PATH (install the MariaDB or MySQL client)`);
      const { args, env } = await connect();
      // --master-data fails outright on a server without a binary log, so ask first.
      const binlog = (await query(what, client, args, env, 'SELECT @@log_bin', signal)).trim() === '1';
      const dumpArgs = [
        ...args,
        '--single-transaction',
        '--routines',
        '--triggers',
        '--events',
        ...(binlog ? ['--master-data=2'] : []),
        // Without --databases the dump has no CREATE DATABASE / USE, so a restore lands in whichever database it is given.
        ...(conn.database !== undefined ? ['--', conn.database] : ['--all-databases']),
      ];
      const produced = captureCommand(what, dump, dumpArgs, { env, signal });
      const watcher = new DumpWatcher();
      // pipeline, not pipe: a consumer that gives up destroys the watcher, and with it the dump's stdout, so the dump cannot block forever.
      pipeline(produced.stream, watcher, () => undefined);
      return {
        name: `${conn.database ?? 'all-databases'}.sql`,
        describe: describeConnection(conn),
        stream: watcher,
        finished: produced.finished,
        ...(binlog ? { meta: () => watcher.coordinates() } : {}),
      };
    },

    async restore(content: Readable, target: StreamRestoreTarget, signal?: AbortSignal): Promise<string> {
      if (target.pipe) throw new UsageError(`${what} is a MySQL source: it cannot be piped into a command`, { remedy: DATABASE_OR_FILE });
      const database = target.database;
      if (!database) throw new UsageError(`${what}: restoring into MySQL needs a database`, { remedy: DATABASE_OR_FILE });
      const client = findOnPath('mariadb', 'mysql');
      if (!client) throw new OperationError(`restore of ${name}: neither mariadb nor mysql is on PATH (install the MariaDB or MySQL client)`);
      const { head, whole } = await readHead(content, HEADER_BYTES);
      // A dump of every database recreates each under its own name: fed "into" another database it would overwrite them.
      const dumped = /^-- Host: .*Database: (.*)$/m.exec(head.toString('latin1'));
      if (dumped && dumped[1]?.trim() === '') {
        content.destroy();
        throw new UsageError(`${what}: this backup is a dump of every database, which recreates each under its original name, not in ${database}`, {
          remedy: { option: 'target', to: 'get the dump file and load it with mariadb' },
        });
      }
      const { args, env } = await connect();
      try {
        // The dump drops each table it creates: into a database that has tables, only on request.
        const counted = await query(`restore of ${name}`, client, args, env, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ${sqlString(database)}`, signal);
        const tables = Number(counted.trim());
        if (tables > 0 && !target.force) {
          throw new UsageError(`${what}: database ${database} already holds ${tables} table(s), which the restore would replace`, {
            remedy: { option: 'force', to: 'replace them, or restore into a new database' },
          });
        }
        await query(`restore of ${name}`, client, args, env, `CREATE DATABASE IF NOT EXISTS \`${database.replaceAll('`', '``')}\``, signal);
      } catch (err) {
        content.destroy();
        throw err;
      }
      await feedCommand(`restore of ${name}`, client, [...args, `--database=${database}`], whole, { env, signal });
      return `restored into database ${database}`;
    },
  };
}

/** The options every MariaDB/MySQL client tool takes to reach the source's server, and the password in MYSQL_PWD. */
export async function mysqlConnection(name: string, config: MysqlConfig, configDir: string): Promise<{ args: string[]; env: NodeJS.ProcessEnv; database: string | undefined }> {
  const conn = connectionOf(name, config);
  const args = [
    ...(conn.socket ? [`--socket=${conn.socket}`] : []),
    ...(conn.host ? [`--host=${conn.host}`] : []),
    ...(conn.port !== undefined ? [`--port=${conn.port}`] : []),
    ...(conn.user ? [`--user=${conn.user}`] : []),
  ];
  const password = await passwordOf(name, config, configDir, conn);
  return { args, env: password !== undefined ? { MYSQL_PWD: password } : {}, database: conn.database };
}

/** A MySQL string literal (backslashes escape in MySQL's default SQL mode). */
function sqlString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** The config's fields over the parts of its `url` (`mysql://user:pass@host:port/db?socket=/run/mysqld/mysqld.sock`). */
function connectionOf(name: string, config: MysqlConfig): Connection {
  let fromUrl: Connection = {};
  if (config.url !== undefined) {
    let url: URL;
    try {
      url = new URL(config.url);
    } catch (err) {
      throw new ConfigError(`sources.${name}.url`, 'not a URL (mysql://user@host:port/database)', { cause: err });
    }
    if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') throw new ConfigError(`sources.${name}.url`, `must start with mysql:// or mariadb://, not ${url.protocol}//`);
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    fromUrl = {
      ...(url.hostname ? { host: url.hostname.replace(/^\[(.*)\]$/, '$1') } : {}),
      ...(url.port ? { port: Number(url.port) } : {}),
      ...(url.searchParams.get('socket') ? { socket: url.searchParams.get('socket') ?? undefined } : {}),
      ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
      ...(database ? { database } : {}),
      ...(url.password ? { urlPassword: decodeURIComponent(url.password) } : {}),
    };
  }
  return {
    host: config.host ?? fromUrl.host,
    port: config.port ?? fromUrl.port,
    socket: config.socket ?? fromUrl.socket,
    user: config.user ?? fromUrl.user,
    database: config.database ?? fromUrl.database,
    urlPassword: fromUrl.urlPassword,
  };
}

async function passwordOf(name: string, config: MysqlConfig, configDir: string, conn: Connection): Promise<string | undefined> {
  if (config.password !== undefined) return config.password;
  if (config.passwordFile !== undefined) {
    const path = resolve(configDir, config.passwordFile);
    try {
      return (await readFile(path, 'utf8')).split(/\r?\n/)[0] ?? '';
    } catch (err) {
      throw new ConfigError(`sources.${name}.passwordFile`, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
    }
  }
  return conn.urlPassword;
}

/** What the snapshot's `paths` shows: where the dump came from, never the password. */
function describeConnection(conn: Connection): string {
  const database = conn.database !== undefined ? `/${conn.database}` : '';
  if (conn.socket && (!conn.host || conn.host === 'localhost')) return `mysql:${conn.socket}${database}`;
  const host = conn.host ?? 'localhost';
  return `mysql://${conn.user ? `${encodeURIComponent(conn.user)}@` : ''}${host.includes(':') ? `[${host}]` : host}${conn.port !== undefined ? `:${conn.port}` : ''}${database}`;
}

/**
 * Passes a dump through unchanged while keeping a copy of its first HEAD_BYTES and
 * its last TAIL_BYTES, where mariadb-dump writes the binlog coordinates; memory stays
 * bounded whatever the dump's size.
 */
class DumpWatcher extends Transform {
  readonly #head: Buffer[] = [];
  #headBytes = 0;
  #tail = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#headBytes < HEAD_BYTES) {
      // A copy: a slice would keep the whole chunk alive.
      const part = Buffer.from(chunk.subarray(0, HEAD_BYTES - this.#headBytes));
      this.#head.push(part);
      this.#headBytes += part.length;
    }
    this.#tail = chunk.length >= TAIL_BYTES ? Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES)) : Buffer.concat([this.#tail, chunk]).subarray(-TAIL_BYTES);
    callback(null, chunk);
  }

  /** The binlog file and position (and MariaDB's GTID position) the dump is consistent with. */
  coordinates(): Record<string, unknown> {
    const head = Buffer.concat(this.#head).toString('latin1');
    // MySQL 8.0.23+ words it CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE.
    const position = /CHANGE (?:MASTER TO MASTER|REPLICATION SOURCE TO SOURCE)_LOG_FILE='([^']+)',\s*(?:MASTER|SOURCE)_LOG_POS=(\d+)/.exec(head);
    const gtid = /gtid_slave_pos='([^']*)'/.exec(head) ?? /gtid_slave_pos='([^']*)'/.exec(this.#tail.toString('latin1'));
    return {
      ...(position ? { binlogFile: position[1], binlogPosition: Number(position[2]) } : {}),
      ...(gtid?.[1] ? { gtidPosition: gtid[1] } : {}),
    };
  }
}

/**
 * Reads a stream's first chunks (at least `bytes` of it, or all of a shorter one) and
 * hands back those bytes and a stream of the whole content, unchanged.
 */
async function readHead(content: Readable, bytes: number): Promise<{ head: Buffer; whole: Readable }> {
  const chunks = content[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < bytes) {
    const next = await chunks.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    size += next.value.length;
  }
  const whole = Readable.from(
    (async function* () {
      try {
        yield* head;
        if (done) return;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
      } finally {
        // A consumer that stops early must not leave the backup's reader open.
        await chunks.return?.();
      }
    })(),
    { objectMode: false },
  );
  return { head: Buffer.concat(head), whole };
}
