import type { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, PutOptions, StorageAdapter } from './adapter.js';
import { isTransient } from './transient-error.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** For tests: how to wait. */
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (operation: string, key: string, attempt: number, err: unknown) => void;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Retries transient failures with exponential backoff and full jitter (AWS
 * architecture blog's recommendation: no synchronized retry storms). A put whose
 * body is a stream is not retried: the stream was consumed by the failed attempt.
 */
export function retrying(inner: StorageAdapter, policy: RetryPolicy = DEFAULT_RETRY): StorageAdapter {
  const sleep = policy.sleep ?? defaultSleep;
  async function attempt<T>(operation: string, key: string, fn: () => Promise<T>, retryable = true): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await fn();
      } catch (err) {
        if (!retryable || n >= policy.attempts || !isTransient(err)) throw err;
        policy.onRetry?.(operation, key, n, err);
        await sleep(Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)));
      }
    }
  }
  return {
    name: inner.name,
    kind: inner.kind,
    put: (key: string, body: Buffer | Readable, opts?: PutOptions) => attempt('put', key, () => inner.put(key, body, opts), Buffer.isBuffer(body)),
    get: (key: string, range?: ByteRange) => attempt('get', key, () => inner.get(key, range)),
    stat: (key: string) => attempt('stat', key, () => inner.stat(key)),
    list: (prefix: string): AsyncIterable<ObjectInfo> => ({
      // A listing is retried from the start only while nothing was yielded, so no key is seen twice.
      [Symbol.asyncIterator]: async function* () {
        for (let n = 1; ; n++) {
          let yielded = false;
          try {
            for await (const info of inner.list(prefix)) {
              yielded = true;
              yield info;
            }
            return;
          } catch (err) {
            if (yielded || n >= policy.attempts || !isTransient(err)) throw err;
            policy.onRetry?.('list', prefix, n, err);
            await sleep(Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)));
          }
        }
      },
    }),
    delete: (key: string) => attempt('delete', key, () => inner.delete(key)),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
