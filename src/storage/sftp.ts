import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import SftpClient from 'ssh2-sftp-client';
import { OperationError } from '../core/errors.js';
import { type ByteRange, type ObjectInfo, ObjectNotFoundError, type PutOptions, type StorageAdapter } from './adapter.js';
import { ConnectionPool } from './connection-pool.js';
import { listByPrefix } from './directory-walk.js';
import { knownHostKeys } from './known-hosts.js';

export interface SftpDestinationConfig {
  host: string;
  port?: number | undefined;
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  privateKeyPath?: string | undefined;
  passphrase?: string | undefined;
  /** A known_hosts file; default ~/.ssh/known_hosts. The server's key must be in it. */
  knownHosts?: string | undefined;
  path?: string | undefined;
}

const POOL_SIZE = 2;
const TEMP_PREFIX = '.tmp-';

interface Connection {
  client: SftpClient;
  alive: boolean;
}

/**
 * SFTP with ssh2-sftp-client. The server's host key must be listed in known_hosts
 * (never trusted on first use); uploads go to a temp name and are renamed into place
 * with the OpenSSH posix-rename extension.
 */
export function createSftpAdapter(name: string, cfg: SftpDestinationConfig): StorageAdapter {
  const port = cfg.port ?? 22;
  const root = (cfg.path ?? '').replace(/\/+$/, '');
  const remote = (key: string) => (root ? `${root}/${key}` : key);
  const where = `SFTP server ${cfg.username}@${cfg.host}:${port}${root ? `/${root}` : ''} (destination ${name})`;
  const knownDirs = new Set<string>();

  const connect = async (): Promise<Connection> => {
    const knownHostsFile = cfg.knownHosts ?? join(homedir(), '.ssh', 'known_hosts');
    const trusted = existsSync(knownHostsFile) ? knownHostKeys(readFileSync(knownHostsFile, 'utf8'), cfg.host, port) : [];
    if (trusted.length === 0) {
      throw new OperationError(`${where}: the host key of ${cfg.host} is not in ${knownHostsFile} — add it (ssh-keyscan -p ${port} ${cfg.host} >> ${knownHostsFile}) after checking its fingerprint`);
    }
    const client = new SftpClient(name);
    const connection: Connection = { client, alive: true };
    try {
      await client.connect({
        host: cfg.host,
        port,
        username: cfg.username,
        ...(cfg.password ? { password: cfg.password } : {}),
        ...(cfg.privateKey ? { privateKey: cfg.privateKey } : cfg.privateKeyPath ? { privateKey: readFileSync(cfg.privateKeyPath) } : {}),
        ...(cfg.passphrase ? { passphrase: cfg.passphrase } : {}),
        hostVerifier: (key: Buffer) => trusted.some((k) => k.equals(key)),
        readyTimeout: 20_000,
      });
    } catch (err) {
      throw explain(err, where, 'connect', '');
    }
    client.on('close', () => (connection.alive = false));
    client.on('error', () => (connection.alive = false));
    return connection;
  };
  const pool = new ConnectionPool<Connection>(
    POOL_SIZE,
    connect,
    (c) => c.alive,
    (c) =>
      c.client.end().then(
        () => undefined,
        () => undefined,
      ),
  );

  const ensureDir = async (client: SftpClient, dir: string) => {
    if (!dir || knownDirs.has(dir)) return;
    try {
      await client.mkdir(dir, true);
    } catch (err) {
      // Another connection created it first: that is what we wanted.
      if ((await client.exists(dir).catch(() => false)) !== 'd') throw err;
    }
    knownDirs.add(dir);
  };

  return {
    name,
    kind: 'sftp',

    async put(key: string, body: Buffer | Readable, _opts?: PutOptions): Promise<void> {
      const target = remote(key);
      const slash = target.lastIndexOf('/');
      const dir = slash >= 0 ? target.slice(0, slash) : '';
      const temp = `${dir ? `${dir}/` : ''}${TEMP_PREFIX}${randomBytes(8).toString('hex')}`;
      await pool.use(async ({ client }) => {
        try {
          await ensureDir(client, dir);
          await client.put(body, temp);
          await client.posixRename(temp, target);
        } catch (err) {
          await client.delete(temp, true).catch(() => undefined);
          throw explain(err, where, 'put', key);
        }
      });
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      if (range && range.length === 0) return Readable.from([]);
      const connection = await pool.acquire();
      if (!(await connection.client.exists(remote(key)).catch(() => false))) {
        pool.release(connection);
        throw new ObjectNotFoundError(name, key);
      }
      const out = new PassThrough();
      const source = connection.client.createReadStream(remote(key), range ? { start: range.offset, end: range.offset + range.length - 1 } : {});
      source.on('error', (err: unknown) => out.destroy(explain(err, where, 'get', key)));
      source.on('close', () => pool.release(connection));
      source.pipe(out);
      return out;
    },

    async stat(key: string): Promise<ObjectInfo | undefined> {
      return pool.use(async ({ client }) => {
        try {
          const st = await client.stat(remote(key));
          return st.isFile ? { key, size: st.size, modified: new Date(st.modifyTime) } : undefined;
        } catch (err) {
          if (isMissing(err)) return undefined;
          throw explain(err, where, 'stat', key);
        }
      });
    },

    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      const found = await pool.use(({ client }) =>
        listByPrefix(
          prefix,
          async (dir) => {
            try {
              const entries = await client.list(dir ? remote(dir) : root || '.');
              return entries.filter((e) => e.type === 'd' || e.type === '-').map((e) => ({ name: e.name, isDirectory: e.type === 'd', size: e.size, modified: new Date(e.modifyTime) }));
            } catch (err) {
              if (isMissing(err)) return undefined;
              throw explain(err, where, 'list', prefix);
            }
          },
          TEMP_PREFIX,
        ),
      );
      yield* found;
    },

    async delete(key: string): Promise<void> {
      await pool.use(async ({ client }) => {
        try {
          await client.delete(remote(key), true);
        } catch (err) {
          if (!isMissing(err)) throw explain(err, where, 'delete', key);
        }
      });
    },

    close: () => pool.close(),
  };
}

function isMissing(err: unknown): boolean {
  const e = err as { code?: unknown; message?: string };
  return e?.code === 2 || e?.code === 'ENOENT' || /no such file/i.test(e?.message ?? '');
}

function explain(err: unknown, where: string, operation: string, key: string): Error {
  if (err instanceof OperationError || err instanceof ObjectNotFoundError) return err;
  const e = err as { code?: unknown; message?: string; level?: string };
  let hint: string;
  if (e?.level === 'client-authentication' || /authentication/i.test(e?.message ?? '')) hint = 'authentication failed — check username, key or password';
  else if (/host key|hostVerifier|Host denied/i.test(e?.message ?? '')) hint = 'the server host key does not match known_hosts — check that this is the right server';
  else hint = `${operation}${key ? ` ${key}` : ''} failed: ${e?.message ?? String(err)}`;
  return Object.assign(new OperationError(`${where}: ${hint}`, { cause: err }), { code: e?.code });
}
