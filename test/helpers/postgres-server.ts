import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** The newest PostgreSQL server from Debian's packages (postgresql-NN). */
export const PG_BIN = (() => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root)
    .filter((d) => existsSync(join(root, d, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return v ? join(root, v, 'bin') : undefined;
})();
export const postgresAvailable = PG_BIN !== undefined;

/** PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user. */
function clusterUser(): { uid: number; gid: number; name: string } {
  if (process.getuid?.() !== 0) return { uid: process.getuid!(), gid: process.getgid!(), name: userInfo().username };
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()), name: 'postgres' };
}

export interface PostgresServer {
  /** The socket directory: `host` for libpq. */
  host: string;
  port: number;
  user: string;
  dataDir: string;
  /** The server's recent log lines, for failure messages. */
  log(): string;
  /** Runs SQL through psql as the cluster's superuser; returns the unaligned output. */
  sql(query: string, database?: string): string;
  stop(): Promise<void>;
}

/** Makes a directory tree usable by the cluster user (configs, password files, repositories it archives into). */
export async function shareWithCluster(path: string): Promise<void> {
  const u = clusterUser();
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, path]);
}

/**
 * A throwaway cluster: initdb into a temp directory, trust authentication on its
 * socket only, a free port. `settings` are extra `-c name=value` server settings
 * (archive_command, ...); `env` reaches archive_command and restore_command.
 */
export async function startPostgres(
  opts: { settings?: Record<string, string>; env?: NodeJS.ProcessEnv; dataDir?: string; initialize?: boolean; port?: number; socketDir?: string } = {},
): Promise<PostgresServer> {
  if (!PG_BIN) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  const u = clusterUser();
  const base = await mkdtemp(join(tmpdir(), 'bkdr-pg-'));
  await chmod(base, 0o755);
  const dataDir = opts.dataDir ?? join(base, 'data');
  const socketDir = opts.socketDir ?? join(base, 'sock');
  await mkdir(socketDir, { recursive: true });
  if (process.getuid?.() === 0) {
    await chown(base, u.uid, u.gid);
    await chown(socketDir, u.uid, u.gid);
  }
  const asCluster = { uid: u.uid, gid: u.gid };
  if (opts.initialize !== false) {
    execFileSync(join(PG_BIN, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], { ...asCluster, stdio: 'ignore', cwd: base });
  }
  const port = opts.port ?? (await freePort());
  const settings = { listen_addresses: '', unix_socket_directories: socketDir, fsync: 'off', wal_level: 'replica', max_wal_senders: '4', ...opts.settings };
  const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child: ChildProcess = spawn(join(PG_BIN, 'postgres'), args, { ...asCluster, cwd: base, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const psql = (query: string, database = 'postgres') =>
    execFileSync(join(PG_BIN!, 'psql'), ['-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-tAq', '-c', query], { stdio: ['ignore', 'pipe', 'pipe'] })
      .toString()
      .trim();
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      psql('SELECT 1');
      break;
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`postgres did not start: ${log || (err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    host: socketDir,
    port,
    user: 'postgres',
    dataDir,
    sql: psql,
    log: () => log,
    stop: async () => {
      // A server killed by a signal (a test's disaster) has exitCode null too, and no exit left to wait for.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT'); // fast shutdown
        await exited;
      }
      await rm(base, { recursive: true, force: true });
    },
  };
}
