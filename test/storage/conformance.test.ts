import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageAdapter } from '../../src/storage/adapter.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { retrying } from '../../src/storage/retrying.js';
import { createAzureAdapter } from '../../src/storage/azure.js';
import { createFtpAdapter } from '../../src/storage/ftp.js';
import { createS3Adapter } from '../../src/storage/s3.js';
import { createSftpAdapter } from '../../src/storage/sftp.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteServer, startAzurite } from '../helpers/azurite-server.js';
import { type FtpServer, startFtpServer } from '../helpers/ftp-server.js';
import { type S3Server, s3rverDestination, startS3Server } from '../helpers/s3-server.js';
import { type SftpServer, sshdAvailable, startSftpServer } from '../helpers/sftp-server.js';
import { describeConformance } from './conformance.js';

const dirs: string[] = [];
let s3: S3Server;
let ftp: FtpServer;
let ftps: FtpServer;
let sftp: SftpServer | undefined;
let azurite: AzuriteServer;
beforeAll(async () => {
  [s3, ftp, ftps, sftp, azurite] = await Promise.all([startS3Server('conformance'), startFtpServer(), startFtpServer({ tls: true }), sshdAvailable ? startSftpServer() : undefined, startAzurite()]);
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  await new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient('conformance').createIfNotExists();
});
afterAll(async () => {
  await azurite?.stop();
  await s3?.stop();
  await ftp?.stop();
  await ftps?.stop();
  await sftp?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const s3Adapter = (prefix = `run-${randomBytes(4).toString('hex')}`): StorageAdapter => createS3Adapter('offsite', s3rverDestination(s3, prefix));

describeConformance('local', () => ({
  open: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bkdr-conf-local-'));
    dirs.push(dir);
    return createLocalAdapter({ name: 'local', path: dir });
  },
}));

describeConformance('s3', () => ({ open: async () => s3Adapter() }));

describeConformance('azure', () => ({
  open: async () =>
    createAzureAdapter('azure-site', { container: 'conformance', prefix: `run-${randomBytes(4).toString('hex')}`, endpoint: azurite.endpoint, accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY }),
}));

describeConformance(
  'ftp',
  () => ({
    open: async () => createFtpAdapter('ftp-site', { host: ftp.host, port: ftp.port, user: ftp.user, password: ftp.password, path: `run-${randomBytes(4).toString('hex')}` }),
  }),
  // FTP listings have no pages; a few hundred keys cover the recursive walk without slowing the suite.
  { manyKeys: 200 },
);

describe('s3 object options', () => {
  it('stores objects, single-part and multipart, in the configured storage class', async () => {
    const prefix = `class-${randomBytes(4).toString('hex')}`;
    const adapter = createS3Adapter('offsite', {
      bucket: 'conformance',
      prefix,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      storageClass: 'STANDARD_IA',
    });
    await adapter.put('small', Buffer.from('small object'));
    await adapter.put('large', Readable.from([randomBytes(12 * 1024 * 1024)]));
    const { S3Client, HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    for (const key of ['small', 'large']) {
      const head = await client.send(new HeadObjectCommand({ Bucket: 'conformance', Key: `${prefix}/${key}` }));
      expect(head.StorageClass, key).toBe('STANDARD_IA');
    }
  });
});

describe('ftps (explicit AUTH TLS)', () => {
  const open = (extra: { caFile?: string }) =>
    createFtpAdapter('ftps-site', { host: ftps.host, port: ftps.port, user: ftps.user, password: ftps.password, secure: true, ...extra, path: `run-${randomBytes(4).toString('hex')}` });

  describeConformance('ftps', () => ({ open: async () => open({ caFile: ftps.caFile! }) }), { manyKeys: 50 });

  it('refuses a certificate it cannot verify, naming the destination', async () => {
    await expect(open({}).stat('x')).rejects.toThrow(/FTP server 127\.0\.0\.1\/run-[0-9a-f]+ \(destination ftps-site\).*self[- ]signed/i);
  });

  it('says which caFile it cannot read', () => {
    expect(() => open({ caFile: '/nonexistent/ca.pem' })).toThrow(/cannot read caFile \/nonexistent\/ca\.pem/);
  });
});

if (!sshdAvailable && process.env['CI']) throw new Error('CI must install openssh-server for the SFTP conformance suite');
describe.skipIf(!sshdAvailable)('sftp (OpenSSH sftp-server)', () => {
  describeConformance(
    'sftp',
    () => ({
      open: async () =>
        createSftpAdapter('sftp-site', {
          host: sftp!.host,
          port: sftp!.port,
          username: sftp!.username,
          privateKeyPath: sftp!.privateKeyPath,
          knownHosts: sftp!.knownHostsPath,
          path: join(sftp!.root, `run-${randomBytes(4).toString('hex')}`),
        }),
    }),
    { manyKeys: 200 },
  );

  it('a server killed mid-upload gives a clear error, and leaves nothing visible', async () => {
    const path = join(sftp!.root, `fault-${randomBytes(4).toString('hex')}`);
    const adapter = createSftpAdapter('sftp-site', { host: sftp!.host, port: sftp!.port, username: sftp!.username, privateKeyPath: sftp!.privateKeyPath, knownHosts: sftp!.knownHostsPath, path });
    await adapter.put('warm-up', Buffer.from('x'));
    async function* body() {
      for (let i = 0; i < 12; i++) {
        if (i === 5) sftp!.kill();
        yield randomBytes(4 * 1024 * 1024);
      }
    }
    const err = (await adapter.put('data/big', Readable.from(body())).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/SFTP server .*fault-[0-9a-f]+ \(destination sftp-site\)/);
    // The server's files, read directly: the upload never got its final name.
    expect(existsSync(join(path, 'data', 'big'))).toBe(false);
    expect((await readdir(join(path, 'data')).catch(() => [] as string[])).filter((n) => !n.startsWith('.tmp-'))).toEqual([]);
  });

  it('refuses a server whose host key is not in known_hosts', async () => {
    const adapter = createSftpAdapter('sftp-site', {
      host: sftp!.host,
      port: sftp!.port,
      username: sftp!.username,
      privateKeyPath: sftp!.privateKeyPath,
      knownHosts: join(sftp!.root, 'empty-known-hosts'),
    });
    await expect(adapter.stat('x')).rejects.toThrow(/host key of 127\.0\.0\.1 is not in/);
  });
});

describe('s3 adapter faults', () => {
  it('a server killed mid-upload gives a clear error, and nothing is half-visible after it restarts', async () => {
    const prefix = `fault-${randomBytes(4).toString('hex')}`;
    const adapter = retrying(s3Adapter(prefix), { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 });
    // The body kills the server once 20 MiB have been handed over: mid-upload by construction.
    async function* body() {
      for (let i = 0; i < 12; i++) {
        if (i === 5) s3.kill();
        yield randomBytes(4 * 1024 * 1024);
      }
    }
    const err = (await adapter.put('data/big', Readable.from(body())).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/S3 bucket conformance\/fault-[0-9a-f]+ \(destination offsite\)/);
    await s3.restart();
    const after = s3Adapter(prefix);
    expect(await after.stat('data/big')).toBeUndefined();
    const listed: string[] = [];
    for await (const o of after.list('')) listed.push(o.key);
    expect(listed).toEqual([]);
  });

  it('azure: a server killed mid-upload gives a clear error, and nothing is half-visible after it restarts', async () => {
    const prefix = `fault-${randomBytes(4).toString('hex')}`;
    const open = () => createAzureAdapter('azure-site', { container: 'conformance', prefix, endpoint: azurite.endpoint, accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY });
    async function* body() {
      for (let i = 0; i < 12; i++) {
        if (i === 5) azurite.kill();
        yield randomBytes(4 * 1024 * 1024);
      }
    }
    const err = (await retrying(open(), { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 })
      .put('data/big', Readable.from(body()))
      .catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/Azure container conformance\/fault-[0-9a-f]+ \(destination azure-site\)/);
    await azurite.restart();
    const after = open();
    expect(await after.stat('data/big')).toBeUndefined();
    const listed: string[] = [];
    for await (const o of after.list('')) listed.push(o.key);
    expect(listed).toEqual([]);
  });

  it('ftp: a server stopped mid-upload gives a clear error, and nothing is half-visible after it restarts', async () => {
    const path = `fault-${randomBytes(4).toString('hex')}`;
    const open = () => createFtpAdapter('ftp-site', { host: ftp.host, port: ftp.port, user: ftp.user, password: ftp.password, path });
    async function* body() {
      for (let i = 0; i < 12; i++) {
        if (i === 5) void ftp.kill();
        yield randomBytes(4 * 1024 * 1024);
      }
    }
    const adapter = open();
    const err = (await adapter.put('data/big', Readable.from(body())).catch((e: unknown) => e)) as Error;
    await adapter.close?.();
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/FTP server 127\.0\.0\.1\/fault-[0-9a-f]+ \(destination ftp-site\)/);
    await ftp.restart();
    const after = open();
    expect(await after.stat('data/big')).toBeUndefined();
    const listed: string[] = [];
    for await (const o of after.list('')) listed.push(o.key);
    expect(listed).toEqual([]);
    await after.close?.();
  });

  it('says access denied and what to check when the bucket does not exist', async () => {
    const missing = createS3Adapter('offsite', { bucket: 'no-such-bucket', endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    await expect(missing.put('x', Buffer.from('x'))).rejects.toThrow(/S3 bucket no-such-bucket \(destination offsite\): the bucket does not exist/);
  });
});
