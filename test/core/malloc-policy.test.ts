import { describe, expect, it } from 'vitest';
import { trimMallocAfterFullGcs } from '../../src/core/malloc-policy.js';
import { collectGarbage } from '../helpers/collect-garbage.js';

describe('trimMallocAfterFullGcs', () => {
  it('trims through full collections until stopped', async () => {
    const stop = trimMallocAfterFullGcs();
    try {
      const garbage = Array.from({ length: 64 }, () => Buffer.alloc(256 * 1024, 1));
      garbage.length = 0;
      collectGarbage();
      // The observer is called after the collection: it must not throw there.
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      stop();
    }
    expect(() => stop()).not.toThrow();
  });
});
