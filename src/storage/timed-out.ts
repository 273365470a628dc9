import type { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, PutOptions, StorageAdapter } from './adapter.js';

export class RequestTimeoutError extends Error {
  readonly code = 'BKDR_TIMEOUT';
  constructor(destination: string, operation: string, key: string, ms: number) {
    super(`${destination}: ${operation} ${key} timed out after ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/**
 * Fails a request that has not completed in `ms` (a transient error, so a retrying
 * wrapper outside this one tries again). Puts get `perMiB` more per MiB of body.
 *
 * Nothing cancels the request itself: a put that timed out may still be sending when its
 * caller, after a retry succeeded, hands the buffer to the next pack. So the request sends
 * its own copy of a Buffer body; without it, a stalled first attempt that woke up later
 * would store another pack's bytes under this pack's key.
 */
export function timedOut(inner: StorageAdapter, ms: number, perMiB = 2_000): StorageAdapter {
  const within = <T>(operation: string, key: string, limit: number, p: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RequestTimeoutError(inner.name, operation, key, limit)), limit);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  };
  return {
    name: inner.name,
    kind: inner.kind,
    put: (key: string, body: Buffer | Readable, opts?: PutOptions) => {
      const size = Buffer.isBuffer(body) ? body.length : (opts?.size ?? 0);
      const own = Buffer.isBuffer(body) ? Buffer.from(body) : body;
      return within('put', key, ms + Math.ceil(size / 1048576) * perMiB, inner.put(key, own, opts));
    },
    get: (key: string, range?: ByteRange) => within('get', key, ms, inner.get(key, range)),
    stat: (key: string) => within('stat', key, ms, inner.stat(key)),
    list: (prefix: string): AsyncIterable<ObjectInfo> => inner.list(prefix),
    delete: (key: string) => within('delete', key, ms, inner.delete(key)),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
