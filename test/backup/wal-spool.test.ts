import { describe, expect, it } from 'vitest';
import { parseAsyncWalCall } from '../../src/backup/wal-async-client.js';
import { nextSegment } from '../../src/backup/wal-spool.js';

describe('nextSegment', () => {
  it('counts segments within a log and carries into the next log at the segment size', () => {
    expect(nextSegment('000000010000000000000001', 16 * 2 ** 20)).toBe('000000010000000000000002');
    expect(nextSegment('0000000100000000000000FF', 16 * 2 ** 20)).toBe('000000010000000100000000');
    expect(nextSegment('0000000100000000000000FF', 2 ** 20)).toBe('000000010000000000000100');
    expect(nextSegment('000000010000000000000FFF', 2 ** 20)).toBe('000000010000000100000000');
  });
  it('has no successor for history, partial or backup files', () => {
    expect(nextSegment('00000002.history', 16 * 2 ** 20)).toBeUndefined();
    expect(nextSegment('000000010000000000000001.partial', 16 * 2 ** 20)).toBeUndefined();
  });
});

describe('parseAsyncWalCall: what bin/bkdr.js answers before the CLI loads', () => {
  it('takes PostgreSQL-style push and fetch calls with the global options before them', () => {
    expect(parseAsyncWalCall(['-c', '/etc/b.json', '-q', 'wal', 'push', '--source', 'db', '--async', '--spool', '/s', '/pg/pg_wal/000000010000000000000001'])).toMatchObject({
      op: 'push',
      globals: ['-c', '/etc/b.json', '-q'],
      spool: '/s',
      source: 'db',
      timeoutMs: 60_000,
      path: '/pg/pg_wal/000000010000000000000001',
      name: '000000010000000000000001',
    });
    expect(parseAsyncWalCall(['wal', 'fetch', '--async', '--spool=/s', '--prefetch', '4', '00000002.history', '/pg/pg_wal/RECOVERYHISTORY'])).toMatchObject({
      op: 'fetch',
      prefetch: 4,
      timeoutMs: 300_000,
      path: '/pg/pg_wal/RECOVERYHISTORY',
      name: '00000002.history',
    });
  });
  it('leaves to the CLI what it does not know: no --async, no spool, unknown options, bad numbers, missing arguments', () => {
    expect(parseAsyncWalCall(['wal', 'push', '/x/1'])).toBeUndefined();
    expect(parseAsyncWalCall(['wal', 'push', '--async', '/x/1'])).toBeUndefined();
    expect(parseAsyncWalCall(['wal', 'push', '--async', '--spool', '/s', '--frobnicate', '/x/1'])).toBeUndefined();
    expect(parseAsyncWalCall(['--weird', 'wal', 'push', '--async', '--spool', '/s', '/x/1'])).toBeUndefined();
    expect(parseAsyncWalCall(['wal', 'fetch', '--async', '--spool', '/s', '--prefetch', '0', 'a', '/b'])).toBeUndefined();
    expect(parseAsyncWalCall(['wal', 'fetch', '--async', '--spool', '/s', 'a'])).toBeUndefined();
    expect(parseAsyncWalCall(['wal', 'verify', '--async'])).toBeUndefined();
  });
});
