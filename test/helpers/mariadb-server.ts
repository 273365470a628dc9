import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

/** The first of `names` found in PATH, /usr/sbin or /usr/bin (mariadbd lives in sbin, outside a user's PATH). */
function findBinary(...names: string[]): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/bin'];
  for (const name of names) {
    for (const dir of dirs) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // Not here.
      }
    }
  }
  return undefined;
}

const INSTALL_DB = findBinary('mariadb-install-db', 'mysql_install_db');
const MARIADBD = findBinary('mariadbd', 'mysqld');
const CLIENT = findBinary('mariadb', 'mysql');
export const mariadbAvailable = INSTALL_DB !== undefined && MARIADBD !== undefined && CLIENT !== undefined && findBinary('mariadb-dump', 'mysqldump') !== undefined;

export interface MariadbServer {
  /** The unix socket: the server does not listen on TCP. */
  socket: string;
  /** A user with every privilege that logs in with `password`. */
  user: string;
  password: string;
  /** Runs SQL as root over the socket; resolves with the tab-separated rows. */
  query(sql: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      // Not the command line: it holds whole scripts of SQL.
      if (err) reject(new Error(`${command}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * A throwaway MariaDB server from the distribution's package: its own datadir, socket
 * and pid file under a temporary directory, no TCP, real authentication (root over the
 * socket without a password, `bkdr` with a password). With `binlog`, binary logging
 * is on so dumps carry their coordinates.
 */
export async function startMariadbServer(opts: { binlog?: boolean } = {}): Promise<MariadbServer> {
  if (!INSTALL_DB || !MARIADBD || !CLIENT) throw new Error('MariaDB is not installed (mariadb-install-db, mariadbd, mariadb)');
  const client = CLIENT;
  const dir = await mkdtemp(join(tmpdir(), 'bkdr-mariadb-'));
  const datadir = join(dir, 'data');
  const socket = join(dir, 'mariadb.sock');
  const user = userInfo().username;
  // Without --no-defaults the package's /etc/mysql config would move logs, sockets and binds elsewhere.
  const serverOptions = ['--no-defaults', `--datadir=${datadir}`, `--user=${user}`];
  try {
    await run(INSTALL_DB, [...serverOptions, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve']);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const child: ChildProcess = spawn(
    MARIADBD,
    [
      ...serverOptions,
      `--socket=${socket}`,
      `--pid-file=${join(dir, 'mariadb.pid')}`,
      '--skip-networking',
      `--log-error=${join(dir, 'error.log')}`,
      '--innodb-buffer-pool-size=64M',
      ...(opts.binlog ? [`--log-bin=${join(dir, 'binlog')}`, '--server-id=1'] : []),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const asRoot = (sql: string, database?: string) =>
    run(client, ['--no-defaults', `--socket=${socket}`, '-u', 'root', '--default-character-set=utf8mb4', '--batch', '--skip-column-names', '-e', sql, ...(database ? [database] : [])]);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  const started = Date.now();
  let lastError = '';
  while (true) {
    if (child.exitCode !== null) {
      const log = await run('tail', ['-n', '20', join(dir, 'error.log')]).catch(() => '');
      await stop();
      throw new Error(`mariadbd exited with ${child.exitCode}:\n${log}`);
    }
    try {
      await asRoot('select 1');
      break;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() - started > 30_000) {
      await stop();
      throw new Error(`mariadbd did not accept connections within 30 s: ${lastError}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  await asRoot(`CREATE USER 'bkdr'@'localhost' IDENTIFIED BY '${password}'; GRANT ALL PRIVILEGES ON *.* TO 'bkdr'@'localhost'`);
  return { socket, user: 'bkdr', password, query: asRoot, stop };
}
