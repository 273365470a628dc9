import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type PutObjectCommandInput, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { OperationError } from '../core/errors.js';
import { type ByteRange, type ObjectInfo, ObjectNotFoundError, type PutOptions, type StorageAdapter } from './adapter.js';
import { httpStatusOf } from './transient-error.js';

export interface S3DestinationConfig {
  bucket: string;
  region?: string | undefined;
  prefix?: string | undefined;
  endpoint?: string | undefined;
  forcePathStyle?: boolean | undefined;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  sessionToken?: string | undefined;
  storageClass?: string | undefined;
  serverSideEncryption?: string | undefined;
  sseKmsKeyId?: string | undefined;
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number } | undefined;
}

/** Bodies above this go through a multipart upload (lib-storage), in parts of this size. */
const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;

/**
 * S3 and S3-compatible stores (MinIO, Ceph, R2, GCS interoperability) with
 * @aws-sdk/client-s3. Retries are left to the `retrying` wrapper (maxAttempts 1 here),
 * so one policy governs every destination.
 */
export function createS3Adapter(name: string, cfg: S3DestinationConfig): StorageAdapter {
  const clientConfig: S3ClientConfig = {
    region: cfg.region ?? 'us-east-1',
    maxAttempts: 1,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    ...(cfg.forcePathStyle !== undefined ? { forcePathStyle: cfg.forcePathStyle } : {}),
    ...(cfg.accessKeyId && cfg.secretAccessKey
      ? { credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey, ...(cfg.sessionToken ? { sessionToken: cfg.sessionToken } : {}) } }
      : {}),
    // DESIGN.md: with the default checksum mode a streamed PutObject to a server that does not
    // speak aws-chunked trailers (s3rver, older MinIO/Ceph) stores the chunk framing in the object.
    ...(cfg.endpoint ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
  };
  // The SDK's own switch for its "will require node >=22" notice: Node 20 is our supported floor until its end of life.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const client = new S3Client(clientConfig);
  const prefix = cfg.prefix ? `${cfg.prefix.replace(/\/+$/, '')}/` : '';
  const where = `S3 bucket ${cfg.bucket}${prefix ? `/${prefix.slice(0, -1)}` : ''} (destination ${name})`;

  const putParams = (key: string): Omit<PutObjectCommandInput, 'Body'> => ({
    Bucket: cfg.bucket,
    Key: prefix + key,
    ...(cfg.storageClass ? { StorageClass: cfg.storageClass as PutObjectCommandInput['StorageClass'] } : {}),
    ...(cfg.serverSideEncryption ? { ServerSideEncryption: cfg.serverSideEncryption as PutObjectCommandInput['ServerSideEncryption'] } : {}),
    ...(cfg.sseKmsKeyId ? { SSEKMSKeyId: cfg.sseKmsKeyId } : {}),
    ...(cfg.objectLock ? { ObjectLockMode: cfg.objectLock.mode, ObjectLockRetainUntilDate: new Date(Date.now() + cfg.objectLock.days * 86_400_000) } : {}),
  });

  return {
    name,
    kind: 's3',

    async put(key: string, body: Buffer | Readable, _opts?: PutOptions): Promise<void> {
      try {
        if (Buffer.isBuffer(body) && body.length <= MULTIPART_THRESHOLD) {
          await client.send(new PutObjectCommand({ ...putParams(key), Body: body, ContentLength: body.length }));
          return;
        }
        const upload = new Upload({ client, params: { ...putParams(key), Body: body }, partSize: PART_SIZE, queueSize: 2, leavePartsOnError: false });
        await upload.done();
      } catch (err) {
        throw explain(err, where, 'put', key);
      }
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      if (range && range.length === 0) return Readable.from([]);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: cfg.bucket, Key: prefix + key, ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}) }));
        if (!(out.Body instanceof Readable)) throw new OperationError(`${where}: get ${key} returned no stream`);
        return out.Body;
      } catch (err) {
        if (isNotFound(err)) throw new ObjectNotFoundError(name, key);
        throw explain(err, where, 'get', key);
      }
    },

    async stat(key: string): Promise<ObjectInfo | undefined> {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: cfg.bucket, Key: prefix + key }));
        return { key, size: out.ContentLength ?? 0, ...(out.LastModified ? { modified: out.LastModified } : {}) };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw explain(err, where, 'stat', key);
      }
    },

    async *list(listPrefix: string): AsyncIterable<ObjectInfo> {
      let token: string | undefined;
      do {
        let out;
        try {
          out = await client.send(new ListObjectsV2Command({ Bucket: cfg.bucket, Prefix: prefix + listPrefix, ...(token ? { ContinuationToken: token } : {}) }));
        } catch (err) {
          throw explain(err, where, 'list', listPrefix);
        }
        for (const o of out.Contents ?? []) {
          if (o.Key) yield { key: o.Key.slice(prefix.length), size: o.Size ?? 0, ...(o.LastModified ? { modified: o.LastModified } : {}) };
        }
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
    },

    async delete(key: string): Promise<void> {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: cfg.bucket, Key: prefix + key }));
      } catch (err) {
        if (isNotFound(err)) return;
        throw explain(err, where, 'delete', key);
      }
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || httpStatusOf(err) === 404;
}

/**
 * One line that says which destination failed and what to check; the SDK error stays
 * the cause (and keeps its status, so the retry wrapper can still classify it).
 */
function explain(err: unknown, where: string, operation: string, key: string): Error {
  const e = err as { name?: string; message?: string };
  const status = httpStatusOf(err);
  let hint: string;
  if (e?.name === 'AccessDenied' || e?.name === 'InvalidAccessKeyId' || e?.name === 'SignatureDoesNotMatch' || status === 403) hint = 'access denied — check credentials and the bucket policy';
  else if (e?.name === 'NoSuchBucket') hint = 'the bucket does not exist — check the bucket name and region';
  else if (e?.name === 'PermanentRedirect' || e?.name === 'AuthorizationHeaderMalformed') hint = 'wrong region for this bucket — check region';
  else hint = `${operation} ${key} failed: ${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? String(err)}`;
  const wrapped = new OperationError(`${where}: ${hint}`, { cause: err });
  // Carry the status and code outward so retry classification sees through the wrapping.
  return Object.assign(wrapped, status !== undefined ? { $metadata: { httpStatusCode: status } } : {}, { code: (err as { code?: unknown }).code });
}
