import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FtpSrv } from 'ftp-srv';

export interface FtpServer {
  host: string;
  port: number;
  /** Closes the server and every connection, as a crash would. */
  kill(): Promise<void>;
  /** Serves the same directory again (a new port). */
  restart(): Promise<void>;
  user: string;
  password: string;
  directory: string;
  stop(): Promise<void>;
}

/** ftp-srv logs every refused command (a missing file is one) through bunyan; the tests need none of it. */
const quietLog = {
  child: () => quietLog,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  fatal: () => undefined,
};

/** A real FTP server (ftp-srv) on loopback, on a free port, serving a throwaway directory; passive mode. */
export async function startFtpServer(): Promise<FtpServer> {
  const directory = await mkdtemp(join(tmpdir(), 'bkdr-ftp-'));
  const user = 'bkdr';
  const password = 'ftp-test-password';
  const launch = async () => {
    // Passive data ports from a range unlikely to collide between parallel test files.
    const pasvMin = 40_000 + Math.floor(Math.random() * 20_000);
    const srv = new FtpSrv({ url: 'ftp://127.0.0.1:0', pasv_url: '127.0.0.1', pasv_min: pasvMin, pasv_max: pasvMin + 200, anonymous: false, greeting: 'bkdr test server', log: quietLog as never });
    srv.on('login', ({ username, password: given }, resolve, reject) => {
      if (username === user && given === password) resolve({ root: directory });
      else reject(new Error('bad login'));
    });
    await srv.listen();
    return { srv, port: (srv as unknown as { server: { address(): AddressInfo } }).server.address().port };
  };
  let current = await launch();
  const server: FtpServer = {
    host: '127.0.0.1',
    port: current.port,
    user,
    password,
    directory,
    kill: async () => {
      await current.srv.close();
    },
    restart: async () => {
      current = await launch();
      server.port = current.port;
    },
    stop: async () => {
      await current.srv.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
  return server;
}
