import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  /** With `tls`: the PEM file of the server's self-signed certificate, for the client's `caFile`. */
  caFile?: string;
  stop(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, made with openssl; it is its own CA. */
function makeCertificate(dir: string): { key: Buffer; cert: Buffer; certPath: string } {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), certPath };
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

/**
 * A real FTP server (ftp-srv) on loopback, on a free port, serving a throwaway directory;
 * passive mode. With `tls`, explicit FTPS (AUTH TLS) with a throwaway certificate.
 */
export async function startFtpServer(options: { tls?: boolean } = {}): Promise<FtpServer> {
  const directory = await mkdtemp(join(tmpdir(), 'bkdr-ftp-'));
  const certDir = options.tls ? await mkdtemp(join(tmpdir(), 'bkdr-ftps-cert-')) : undefined;
  const certificate = certDir ? makeCertificate(certDir) : undefined;
  const user = 'bkdr';
  const password = 'ftp-test-password';
  const launch = async () => {
    // Passive data ports from a range unlikely to collide between parallel test files.
    const pasvMin = 40_000 + Math.floor(Math.random() * 20_000);
    const srv = new FtpSrv({
      url: 'ftp://127.0.0.1:0',
      pasv_url: '127.0.0.1',
      pasv_min: pasvMin,
      pasv_max: pasvMin + 200,
      anonymous: false,
      greeting: 'bkdr test server',
      log: quietLog as never,
      tls: certificate ? { key: certificate.key, cert: certificate.cert } : false,
    });
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
    ...(certificate ? { caFile: certificate.certPath } : {}),
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
      if (certDir) await rm(certDir, { recursive: true, force: true });
    },
  };
  return server;
}
