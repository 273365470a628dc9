import type { Readable } from 'node:stream';
import type { Logger } from '../core/logger.js';
import type { ByteRange, ObjectInfo, PutOptions, StorageAdapter, StreamedObject } from './adapter.js';

/** Logs every call at debug level with its duration and outcome (`-v` / LOG_LEVEL=debug). */
export function logged(inner: StorageAdapter, log: Logger): StorageAdapter {
  if (log.level !== 'debug') return inner;
  const call = async <T>(operation: string, key: string, fn: () => Promise<T>, fields: Record<string, unknown> = {}): Promise<T> => {
    const started = Date.now();
    try {
      const result = await fn();
      log.debug(`${inner.name}: ${operation} ${key}`, { ...fields, ms: Date.now() - started });
      return result;
    } catch (err) {
      log.debug(`${inner.name}: ${operation} ${key} failed: ${(err as Error).message}`, { ...fields, ms: Date.now() - started });
      throw err;
    }
  };
  return {
    name: inner.name,
    kind: inner.kind,
    put: (key: string, body: Buffer | Readable, opts?: PutOptions) => call('put', key, () => inner.put(key, body, opts), Buffer.isBuffer(body) ? { bytes: body.length } : {}),
    get: (key: string, range?: ByteRange) => call('get', key, () => inner.get(key, range), range ? { offset: range.offset, length: range.length } : {}),
    stat: (key: string) => call('stat', key, () => inner.stat(key)),
    list: (prefix: string): AsyncIterable<ObjectInfo> => {
      log.debug(`${inner.name}: list ${prefix}`);
      return inner.list(prefix);
    },
    delete: (key: string) => call('delete', key, () => inner.delete(key)),
    ...(inner.createStreamed
      ? {
          createStreamed: (dir: string): StreamedObject => {
            const object = inner.createStreamed!(dir);
            // A streamed object is stored when it is named: logged as a put would be.
            return { ...object, commit: (key: string) => call('commit', key, () => object.commit(key)) };
          },
        }
      : {}),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
