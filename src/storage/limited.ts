import type { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, PutOptions, StorageAdapter } from './adapter.js';

/** At most `concurrency` requests in flight to one destination; the rest wait their turn in order. */
export function limited(inner: StorageAdapter, concurrency: number): StorageAdapter {
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = async () => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
  };
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    await acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  };
  return {
    name: inner.name,
    kind: inner.kind,
    put: (key: string, body: Buffer | Readable, opts?: PutOptions) => run(() => inner.put(key, body, opts)),
    // The slot covers opening the download; reading the stream is the caller's pace.
    get: (key: string, range?: ByteRange) => run(() => inner.get(key, range)),
    stat: (key: string) => run(() => inner.stat(key)),
    list: (prefix: string): AsyncIterable<ObjectInfo> => inner.list(prefix),
    delete: (key: string) => run(() => inner.delete(key)),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
