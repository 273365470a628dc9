import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/repo/buffer-pool.js';

describe('BufferPool', () => {
  it('hands a released buffer out again, and only once its last holder released it', () => {
    const pool = new BufferPool(1024 * 1024);
    const first = pool.lease(100_000, 2);
    expect(first.buffer.length).toBe(100_000);
    first.releases[0]!();
    // Still held by the second holder: a new lease must not get the same memory.
    const second = pool.lease(100_000);
    expect(second.buffer.buffer).not.toBe(first.buffer.buffer);
    first.releases[1]!();
    expect(pool.retained).toBe(128 * 1024);
    const third = pool.lease(70_000);
    expect(third.buffer.buffer).toBe(first.buffer.buffer);
    expect(third.buffer.length).toBe(70_000);
    expect(pool.retained).toBe(0);
  });

  it('counts a holder that releases twice once', () => {
    const pool = new BufferPool(1024 * 1024);
    const lease = pool.lease(1000, 2);
    lease.releases[0]!();
    lease.releases[0]!();
    expect(pool.retained).toBe(0);
    lease.releases[1]!();
    expect(pool.retained).toBe(64 * 1024);
  });

  it('keeps no more than it is allowed to, and nothing of another size class', () => {
    const pool = new BufferPool(300 * 1024);
    const leases = [pool.lease(128 * 1024), pool.lease(128 * 1024), pool.lease(128 * 1024)];
    for (const l of leases) l.releases[0]!();
    expect(pool.retained).toBe(256 * 1024);
    const larger = pool.lease(200 * 1024);
    expect(leases.some((l) => l.buffer.buffer === larger.buffer.buffer)).toBe(false);
    expect(pool.retained).toBe(256 * 1024);
  });

  it('with borrowUpTo, takes a free buffer of a larger class when its own has none, and gives it back to that class', () => {
    const pool = new BufferPool(4 * 1024 * 1024, { borrowUpTo: 4 });
    const eightTimes = pool.lease(512 * 1024);
    const fourTimes = pool.lease(256 * 1024);
    eightTimes.releases[0]!();
    fourTimes.releases[0]!();
    const borrowed = pool.lease(50_000);
    expect(borrowed.buffer.buffer).toBe(fourTimes.buffer.buffer);
    expect(borrowed.buffer.length).toBe(50_000);
    // No class of four times or less is free now: a new buffer, not the one eight times larger.
    const fresh = pool.lease(50_000);
    expect(fresh.buffer.buffer).not.toBe(eightTimes.buffer.buffer);
    borrowed.releases[0]!();
    expect(pool.lease(256 * 1024).buffer.buffer).toBe(fourTimes.buffer.buffer);
    // Without the option, a class lends nothing to another.
    const plain = new BufferPool(4 * 1024 * 1024);
    const large = plain.lease(128 * 1024);
    large.releases[0]!();
    expect(plain.lease(64 * 1024).buffer.buffer).not.toBe(large.buffer.buffer);
    expect(plain.retained).toBe(128 * 1024);
  });

  it('gives the pages of a large buffer idle past discardIdleAfter back, and hands the buffer out again', async () => {
    const pool = new BufferPool(8 * 1024 * 1024, { discardIdleAfter: 10 });
    const large = pool.lease(2 * 1024 * 1024);
    large.buffer.fill(7);
    const small = pool.lease(64 * 1024);
    small.buffer.fill(7);
    large.releases[0]!();
    small.releases[0]!();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Discarded pages read as zeros; a buffer below 2 MiB keeps its.
    expect(large.buffer.every((b) => b === 0)).toBe(true);
    expect(small.buffer.every((b) => b === 7)).toBe(true);
    const again = pool.lease(2 * 1024 * 1024);
    expect(again.buffer.buffer).toBe(large.buffer.buffer);
  });
});
