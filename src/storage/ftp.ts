import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough, Readable, Transform } from 'node:stream';
import { Client, FTPError } from 'basic-ftp';
import { ConfigError, OperationError } from '../core/errors.js';
import { ConnectionPool } from './connection-pool.js';
import { listByPrefix } from './directory-walk.js';
import { type ByteRange, type ObjectInfo, ObjectNotFoundError, type PutOptions, type StorageAdapter } from './adapter.js';

export interface FtpDestinationConfig {
  host: string;
  port?: number | undefined;
  user?: string | undefined;
  password?: string | undefined;
  /** true: explicit FTPS (AUTH TLS); 'implicit': implicit FTPS. */
  secure?: boolean | 'implicit' | undefined;
  /** PEM file of the CA that signed the server's certificate (a private CA); the system CAs otherwise. */
  caFile?: string | undefined;
  path?: string | undefined;
  passive?: boolean | undefined;
}

/** Connections held open to one server; basic-ftp runs one command at a time per connection. */
const POOL_SIZE = 4;
const TEMP_PREFIX = '.tmp-';

function readCaFile(path: string, where: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError('', `${where}: cannot read caFile ${path}: ${(err as Error).message}`);
  }
}

/**
 * FTP and FTPS with basic-ftp (passive mode). Uploads go to a temp name and are
 * renamed into place, so an object is never half-visible.
 */
export function createFtpAdapter(name: string, cfg: FtpDestinationConfig): StorageAdapter {
  if (cfg.passive === false) throw new OperationError(`FTP server ${cfg.host} (destination ${name}): active mode is not supported; use passive`);
  const root = `/${(cfg.path ?? '').replace(/^\/+|\/+$/g, '')}`.replace(/\/$/, '') || '';
  const remote = (key: string) => `${root}/${key}`;
  const where = `FTP server ${cfg.host}${root} (destination ${name})`;
  const knownDirs = new Set<string>();
  // Certificates are always verified; a private CA is trusted only when named.
  const tlsOptions = cfg.secure && cfg.caFile ? { ca: readCaFile(cfg.caFile, where) } : undefined;

  const connect = async (): Promise<Client> => {
    const client = new Client(30_000);
    try {
      await client.access({
        host: cfg.host,
        ...(cfg.port ? { port: cfg.port } : {}),
        user: cfg.user ?? 'anonymous',
        password: cfg.password ?? 'anonymous@',
        secure: cfg.secure ?? false,
        ...(tlsOptions ? { secureOptions: tlsOptions } : {}),
      });
    } catch (err) {
      client.close();
      throw explain(err, where, 'connect', '');
    }
    return client;
  };
  const pool = new ConnectionPool<Client>(
    POOL_SIZE,
    connect,
    (c) => !c.closed,
    (c) => c.close(),
  );
  const withClient = <T>(fn: (c: Client) => Promise<T>): Promise<T> => pool.use(fn);
  const ensureDir = async (client: Client, dir: string) => {
    if (!dir || knownDirs.has(dir)) return;
    await client.ensureDir(dir);
    await client.cd('/');
    knownDirs.add(dir);
  };

  return {
    name,
    kind: 'ftp',

    async put(key: string, body: Buffer | Readable, _opts?: PutOptions): Promise<void> {
      const target = remote(key);
      const dir = target.slice(0, target.lastIndexOf('/'));
      const temp = `${dir}/${TEMP_PREFIX}${randomBytes(8).toString('hex')}`;
      await withClient(async (client) => {
        try {
          await ensureDir(client, dir);
          await client.uploadFrom(Buffer.isBuffer(body) ? Readable.from([body]) : body, temp);
          await client.rename(temp, target).catch(async (err: unknown) => {
            // Some servers refuse to rename over an existing file: replace it in two steps.
            if (!(err instanceof FTPError) || err.code !== 550) throw err;
            await client.remove(target).catch(() => undefined);
            await client.rename(temp, target);
          });
        } catch (err) {
          await client.remove(temp).catch(() => undefined);
          throw explain(err, where, 'put', key);
        }
      });
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      if (range && range.length === 0) return Readable.from([]);
      const client = await pool.acquire();
      try {
        await client.size(remote(key));
      } catch (err) {
        pool.release(client);
        if (isMissing(err)) throw new ObjectNotFoundError(name, key);
        throw explain(err, where, 'get', key);
      }
      const out = new PassThrough();
      // REST gives the start; the length is cut here (FTP has no end offset).
      const sink = range ? limitTo(range.length) : new PassThrough();
      sink.pipe(out);
      client
        .downloadTo(sink, remote(key), range?.offset ?? 0)
        .then(
          () => sink.end(),
          (err: unknown) => out.destroy(explain(err, where, 'get', key)),
        )
        .finally(() => pool.release(client));
      return out;
    },

    async stat(key: string): Promise<ObjectInfo | undefined> {
      return withClient(async (client) => {
        try {
          return { key, size: await client.size(remote(key)) };
        } catch (err) {
          if (isMissing(err)) return undefined;
          throw explain(err, where, 'stat', key);
        }
      });
    },

    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      const found = await withClient((client) =>
        listByPrefix(
          prefix,
          async (dir) => {
            try {
              const entries = await client.list(dir ? remote(dir) : root || '/');
              return entries.map((e) => ({ name: e.name, isDirectory: e.isDirectory, size: e.size, modified: e.modifiedAt }));
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
      await withClient(async (client) => {
        try {
          await client.remove(remote(key));
        } catch (err) {
          if (!isMissing(err)) throw explain(err, where, 'delete', key);
        }
      });
    },

    close: () => pool.close(),
  };
}

/** Passes the first `length` bytes and swallows the rest of the transfer. */
function limitTo(length: number): Transform {
  let left = length;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (left > 0) {
        const part = chunk.length <= left ? chunk : chunk.subarray(0, left);
        left -= part.length;
        this.push(part);
      }
      done();
    },
  });
}

function isMissing(err: unknown): boolean {
  return err instanceof FTPError && err.code === 550;
}

function explain(err: unknown, where: string, operation: string, key: string): Error {
  if (err instanceof OperationError || err instanceof ObjectNotFoundError) return err;
  const e = err as { code?: unknown; message?: string };
  let hint: string;
  if (e?.code === 530) hint = 'login refused — check user and password';
  else if (e?.code === 'ECONNREFUSED') hint = 'connection refused — check host and port';
  else hint = `${operation}${key ? ` ${key}` : ''} failed: ${e?.message ?? String(err)}`;
  // Keep the reply code (4xx is transient in FTP) and errno so the retry wrapper can classify.
  return Object.assign(new OperationError(`${where}: ${hint}`, { cause: err }), { code: e?.code });
}
