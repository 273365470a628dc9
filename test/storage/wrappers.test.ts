import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, readAll, type StorageAdapter } from '../../src/storage/adapter.js';
import { limited } from '../../src/storage/limited.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { retrying } from '../../src/storage/retrying.js';
import { RequestTimeoutError, timedOut } from '../../src/storage/timed-out.js';
import { isTransient } from '../../src/storage/transient-error.js';
import { makeTempDir } from '../helpers/cli.js';
import { countInFlight } from '../helpers/in-flight.js';

/** Fails the next `failures` calls of every operation with `error`, then passes through to the real adapter. */
function failing(inner: StorageAdapter, failures: number, error: () => unknown): StorageAdapter & { calls: number } {
  let left = failures;
  const wrapper = {
    calls: 0,
    name: inner.name,
    kind: inner.kind,
    async put(...args: Parameters<StorageAdapter['put']>) {
      wrapper.calls++;
      if (left-- > 0) throw error();
      return inner.put(...args);
    },
    async get(...args: Parameters<StorageAdapter['get']>) {
      wrapper.calls++;
      if (left-- > 0) throw error();
      return inner.get(...args);
    },
    async stat(key: string) {
      wrapper.calls++;
      if (left-- > 0) throw error();
      return inner.stat(key);
    },
    list: (prefix: string) => inner.list(prefix),
    async delete(key: string) {
      wrapper.calls++;
      if (left-- > 0) throw error();
      return inner.delete(key);
    },
  };
  return wrapper;
}

const noSleep = { attempts: 4, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined };
const errno = (code: string) => Object.assign(new Error(code), { code });

describe('storage wrappers', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let local: StorageAdapter;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-wrap-');
    local = createLocalAdapter({ name: 'disk', path: join(tmp.path, 's') });
  });
  afterEach(() => tmp.cleanup());

  it.each([
    ['a connection reset', errno('ECONNRESET'), true],
    ['S3 throttling', Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }), true],
    ['a 500', Object.assign(new Error('x'), { statusCode: 500 }), true],
    ['a 429', Object.assign(new Error('x'), { $metadata: { httpStatusCode: 429 } }), true],
    ['access denied', Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }), false],
    ['a 401', Object.assign(new Error('x'), { statusCode: 401 }), false],
    ['a missing object', new ObjectNotFoundError('d', 'k'), false],
    ['an FTP 421', Object.assign(new Error('busy'), { code: 421 }), true],
    ['an FTP 530 (login)', Object.assign(new Error('login'), { code: 530 }), false],
    ['a wrapped reset', new Error('upload failed', { cause: errno('EPIPE') }), true],
  ])('classifies %s', (_what, err, transient) => {
    expect(isTransient(err)).toBe(transient);
  });

  it('retries transient failures until the call succeeds', async () => {
    const flaky = failing(local, 2, () => errno('ECONNRESET'));
    const retries: number[] = [];
    const adapter = retrying(flaky, { ...noSleep, onRetry: (_op, _key, n) => retries.push(n) });
    await adapter.put('k', Buffer.from('value'));
    expect(retries).toEqual([1, 2]);
    expect((await readAll(await adapter.get('k'))).toString()).toBe('value');
  });

  it('gives up after the last attempt with the original error', async () => {
    const flaky = failing(local, 100, () => errno('ETIMEDOUT'));
    await expect(retrying(flaky, noSleep).stat('k')).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(flaky.calls).toBe(4);
  });

  it('never retries an authentication error or a missing object', async () => {
    const denied = failing(local, 100, () => Object.assign(new Error('denied'), { $metadata: { httpStatusCode: 403 } }));
    await expect(retrying(denied, noSleep).put('k', Buffer.from('x'))).rejects.toThrow('denied');
    expect(denied.calls).toBe(1);
    const counting = failing(local, 0, () => undefined);
    await expect(retrying(counting, noSleep).get('missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(counting.calls).toBe(1);
  });

  it('does not retry a streamed put, whose body the failed attempt consumed', async () => {
    const flaky = failing(local, 1, () => errno('ECONNRESET'));
    await expect(retrying(flaky, noSleep).put('k', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(flaky.calls).toBe(1);
  });

  it('limits concurrent requests to one destination', async () => {
    const stats = countInFlight(local.stat.bind(local), { holdMs: 10 });
    const slow: StorageAdapter = { ...local, name: local.name, kind: local.kind, stat: stats.call };
    const adapter = limited(slow, 3);
    await Promise.all(Array.from({ length: 20 }, (_, i) => adapter.stat(`k${i}`)));
    expect(stats.most).toBe(3);
  });

  it('lets a put that timed out go on with the bytes it was given, whatever its caller does with the buffer next', async () => {
    // A request stalled past its limit and sending later, as a network put can: it must not send what the buffer holds by then.
    let resume!: () => void;
    const stalled = new Promise<void>((resolve) => (resume = resolve));
    let sent: Promise<void> | undefined;
    const slow: StorageAdapter = { ...local, name: 'slow', kind: 'local', put: (key, body, opts) => (sent = stalled.then(() => local.put(key, body, opts))) };
    const buffer = Buffer.from('the first pack');
    await expect(timedOut(slow, 50, 0).put('pack', buffer)).rejects.toBeInstanceOf(RequestTimeoutError);
    buffer.write('the other pack');
    resume();
    await sent;
    expect((await readAll(await local.get('pack'))).toString()).toBe('the first pack');
  });

  it('times out a request that hangs, as a transient error', async () => {
    const hanging: StorageAdapter = { ...local, name: 'stuck', kind: 'local', stat: () => new Promise(() => undefined) };
    const err = await timedOut(hanging, 50)
      .stat('k')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(isTransient(err)).toBe(true);
    expect((err as Error).message).toBe('stuck: stat k timed out after 50 ms');
  });
});
