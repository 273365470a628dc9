import type { Readable } from 'node:stream';
import { type ByteRange, type ObjectInfo, type PutOptions, readAll, type StorageAdapter } from '../../src/storage/adapter.js';

export type FaultyOperation = 'put' | 'get' | 'list' | 'stat' | 'delete';

export interface FaultyOptions {
  /** Chance, 0 to 1, that a chosen call fails. */
  failureRate: number;
  seed?: number;
  /** Calls that may fail; all of them by default. */
  ops?: FaultyOperation[];
}

export interface FaultyAdapter extends StorageAdapter {
  /** Failures injected so far, in all and per operation. */
  readonly injected: number;
  readonly injectedBy: Readonly<Record<FaultyOperation, number>>;
}

/**
 * What a dropped connection looks like to an adapter: a Node errno error with code
 * ECONNRESET, which src/storage/transient-error.ts counts as worth another try.
 */
export class InjectedFault extends Error {
  readonly code = 'ECONNRESET';
  constructor(operation: FaultyOperation, key: string, destination: string) {
    super(`injected fault: ${operation} ${key} on ${destination}: read ECONNRESET`);
    this.name = 'InjectedFault';
  }
}

/** mulberry32: tiny, fast and good enough to spread faults; seeded so runs repeat. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Makes the chosen calls of `inner` fail at random, before they reach it, the way a
 * flaky network does. A listing fails before its first entry only: the retrying
 * wrapper restarts a listing solely while nothing was yielded, so a fault after that
 * would test a promise no wrapper makes. Likewise `get` fails when asked, not
 * halfway through the stream it returns.
 */
export function faulty(inner: StorageAdapter, opts: FaultyOptions): FaultyAdapter {
  const seed = opts.seed ?? 0x5eed;
  // One stream per operation: concurrent uploads and reads interleave differently on
  // every run, and with a single stream that order decided which kind of call a fault
  // hit. Per operation, the n-th put fails or not on every run alike.
  const random: Record<FaultyOperation, () => number> = { put: prng(seed), get: prng(seed + 1), list: prng(seed + 2), stat: prng(seed + 3), delete: prng(seed + 4) };
  const chosen = new Set<FaultyOperation>(opts.ops ?? ['put', 'get', 'list', 'stat', 'delete']);
  const injectedBy: Record<FaultyOperation, number> = { put: 0, get: 0, list: 0, stat: 0, delete: 0 };
  let injected = 0;
  const maybeFail = (operation: FaultyOperation, key: string) => {
    if (!chosen.has(operation) || random[operation]() >= opts.failureRate) return;
    injected++;
    injectedBy[operation]++;
    throw new InjectedFault(operation, key, inner.name);
  };
  return {
    name: inner.name,
    kind: inner.kind,
    get injected() {
      return injected;
    },
    injectedBy,
    async put(key: string, body: Buffer | Readable, putOpts?: PutOptions) {
      maybeFail('put', key);
      return inner.put(key, body, putOpts);
    },
    async get(key: string, range?: ByteRange) {
      maybeFail('get', key);
      return inner.get(key, range);
    },
    async stat(key: string) {
      maybeFail('stat', key);
      return inner.stat(key);
    },
    list: (prefix: string): AsyncIterable<ObjectInfo> => ({
      [Symbol.asyncIterator]: async function* () {
        maybeFail('list', prefix);
        yield* inner.list(prefix);
      },
    }),
    async delete(key: string) {
      maybeFail('delete', key);
      return inner.delete(key);
    },
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}

/** Shaped like the error fs.write raises on a full disk, so nothing can tell it from the real one. */
export function noSpaceError(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/**
 * A destination that holds `capacity` bytes: a put that would go past it fails with
 * ENOSPC and stores nothing, as the local adapter's temp-file-then-rename does.
 * Deletes give no space back: a full disk stays full until someone frees it.
 */
export function failAfterBytes(inner: StorageAdapter, capacity: number): StorageAdapter & { readonly bytesPut: number; readonly refused: number } {
  let bytesPut = 0;
  let refused = 0;
  return {
    name: inner.name,
    kind: inner.kind,
    get bytesPut() {
      return bytesPut;
    },
    get refused() {
      return refused;
    },
    async put(key: string, body: Buffer | Readable, putOpts?: PutOptions) {
      const bytes = Buffer.isBuffer(body) ? body : await readAll(body);
      if (bytesPut + bytes.length > capacity) {
        refused++;
        throw noSpaceError();
      }
      // Reserved before the write: concurrent pack uploads must not both fit into the last free bytes.
      bytesPut += bytes.length;
      try {
        await inner.put(key, bytes, putOpts);
      } catch (err) {
        bytesPut -= bytes.length;
        throw err;
      }
    },
    get: (key: string, range?: ByteRange) => inner.get(key, range),
    stat: (key: string) => inner.stat(key),
    list: (prefix: string) => inner.list(prefix),
    delete: (key: string) => inner.delete(key),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
