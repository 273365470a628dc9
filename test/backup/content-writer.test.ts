import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeContent } from '../../src/backup/content-writer.js';
import type { Destination } from '../../src/runtime/destinations.js';
import { FanOutRepository } from '../../src/backup/fan-out-repository.js';
import { streamReader } from '../../src/repo/content-chunker.js';
import { Repository } from '../../src/repo/repository.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';
import { failAfterBytes } from '../helpers/faulty-adapter.js';

/** An endless producer, like `cat /dev/urandom`; counts what was taken and whether it was closed. */
function endless() {
  const state = { bytes: 0, closed: false };
  async function* produce() {
    try {
      while (true) {
        const piece = randomBytes(256 * 1024);
        state.bytes += piece.length;
        yield piece;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, stream: produce() };
}

describe('writeContent', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-content-');
  });
  afterEach(() => tmp.cleanup());

  it('stops reading soon after its only destination fails, and closes the source', async () => {
    const full = failAfterBytes(createLocalAdapter({ name: 'small-disk', path: join(tmp.path, 'repo') }), 48 * 1024 * 1024);
    const repo = await Repository.create(full, { password: 'pw', compression: { algorithm: 'none' } });
    const fanOut = new FanOutRepository([{ destination: { name: 'small-disk' } as Destination, repo }]);
    const { state, stream } = endless();
    await expect(writeContent(streamReader(stream), fanOut)).rejects.toThrow(/ENOSPC|no space/);
    // Up to the failure (48 MiB) plus what was in flight: nowhere near reading on and on.
    expect(state.bytes).toBeLessThan(160 * 1024 * 1024);
    expect(state.closed).toBe(true);
    expect(fanOut.hasBlob('0'.repeat(64))).toBe(false);
  });
});
