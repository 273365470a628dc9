import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { trimMallocAfterFullGcs } from '../../src/core/malloc-policy.js';

describe('trimMallocAfterFullGcs', () => {
  it('trims through full collections until stopped', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const stop = trimMallocAfterFullGcs();
    try {
      const garbage = Array.from({ length: 64 }, () => Buffer.alloc(256 * 1024, 1));
      garbage.length = 0;
      gc();
      // The observer is called after the collection: it must not throw there.
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      stop();
    }
    expect(() => stop()).not.toThrow();
  });
});
