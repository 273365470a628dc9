import { Readable } from 'node:stream';
import { type BlobServiceClient, BlobServiceClient as BlobService, type ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { OperationError, UsageError } from '../core/errors.js';
import { type ByteRange, type ObjectInfo, ObjectNotFoundError, type PutOptions, type StorageAdapter } from './adapter.js';
import { httpStatusOf } from './transient-error.js';

export interface AzureDestinationConfig {
  container: string;
  prefix?: string | undefined;
  connectionString?: string | undefined;
  accountName?: string | undefined;
  accountKey?: string | undefined;
  sasToken?: string | undefined;
  /** Blob service URL; default https://<account>.blob.core.windows.net (azurite: http://127.0.0.1:10000/devstoreaccount1). */
  endpoint?: string | undefined;
  accessTier?: 'Hot' | 'Cool' | 'Cold' | 'Archive' | undefined;
}

/** Block size for streamed uploads; blocks become visible only when the block list is committed. */
const BLOCK_SIZE = 8 * 1024 * 1024;

/** Azure Blob Storage with @azure/storage-blob: block blobs, committed whole, so never half-visible. */
export function createAzureAdapter(name: string, cfg: AzureDestinationConfig): StorageAdapter {
  const service = serviceClient(name, cfg);
  const container: ContainerClient = service.getContainerClient(cfg.container);
  const prefix = cfg.prefix ? `${cfg.prefix.replace(/\/+$/, '')}/` : '';
  const where = `Azure container ${cfg.container}${prefix ? `/${prefix.slice(0, -1)}` : ''} (destination ${name})`;
  const blob = (key: string) => container.getBlockBlobClient(prefix + key);
  const tier = cfg.accessTier ? { tier: cfg.accessTier } : {};

  return {
    name,
    kind: 'azure',

    async put(key: string, body: Buffer | Readable, _opts?: PutOptions): Promise<void> {
      try {
        if (Buffer.isBuffer(body)) await blob(key).uploadData(body, { blockSize: BLOCK_SIZE, concurrency: 2, ...tier });
        else await blob(key).uploadStream(body, BLOCK_SIZE, 2, tier);
      } catch (err) {
        throw explain(err, where, 'put', key);
      }
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      if (range && range.length === 0) return Readable.from([]);
      try {
        const res = await blob(key).download(range?.offset ?? 0, range?.length);
        if (!res.readableStreamBody) throw new OperationError(`${where}: get ${key} returned no stream`);
        return res.readableStreamBody as Readable;
      } catch (err) {
        if (httpStatusOf(err) === 404) throw new ObjectNotFoundError(name, key);
        throw explain(err, where, 'get', key);
      }
    },

    async stat(key: string): Promise<ObjectInfo | undefined> {
      try {
        const p = await blob(key).getProperties();
        return { key, size: p.contentLength ?? 0, ...(p.lastModified ? { modified: p.lastModified } : {}) };
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw explain(err, where, 'stat', key);
      }
    },

    async *list(listPrefix: string): AsyncIterable<ObjectInfo> {
      try {
        for await (const b of container.listBlobsFlat({ prefix: prefix + listPrefix })) {
          yield { key: b.name.slice(prefix.length), size: b.properties.contentLength ?? 0, modified: b.properties.lastModified };
        }
      } catch (err) {
        throw explain(err, where, 'list', listPrefix);
      }
    },

    async delete(key: string): Promise<void> {
      try {
        await blob(key).deleteIfExists();
      } catch (err) {
        throw explain(err, where, 'delete', key);
      }
    },
  };
}

function serviceClient(name: string, cfg: AzureDestinationConfig): BlobServiceClient {
  if (cfg.connectionString) return BlobService.fromConnectionString(cfg.connectionString, { retryOptions: { maxTries: 1 } });
  if (!cfg.accountName) throw new UsageError(`destination ${name}: Azure needs connectionString, or accountName with accountKey or sasToken`);
  const url = (cfg.endpoint ?? `https://${cfg.accountName}.blob.core.windows.net`).replace(/\/+$/, '');
  // Retries belong to the retrying wrapper, so one policy governs every destination.
  const options = { retryOptions: { maxTries: 1 } };
  if (cfg.accountKey) return new BlobService(url, new StorageSharedKeyCredential(cfg.accountName, cfg.accountKey), options);
  if (cfg.sasToken) return new BlobService(`${url}?${cfg.sasToken.replace(/^\?/, '')}`, undefined, options);
  throw new UsageError(`destination ${name}: Azure needs accountKey or sasToken with accountName`);
}

function explain(err: unknown, where: string, operation: string, key: string): Error {
  if (err instanceof OperationError) return err;
  const e = err as { code?: string; message?: string };
  const status = httpStatusOf(err);
  let hint: string;
  if (status === 403 || e?.code === 'AuthenticationFailed' || e?.code === 'AuthorizationFailure') hint = 'access denied — check the account key, SAS token or connection string';
  else if (e?.code === 'ContainerNotFound') hint = 'the container does not exist — create it or check its name';
  else hint = `${operation} ${key} failed: ${e?.code ? `${e.code}: ` : ''}${(e?.message ?? String(err)).split('\n')[0]}`;
  return Object.assign(new OperationError(`${where}: ${hint}`, { cause: err }), status !== undefined ? { statusCode: status } : {}, { code: e?.code });
}
