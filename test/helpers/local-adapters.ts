import { afterEach } from 'vitest';
import type { StorageAdapter } from '../../src/storage/adapter.js';
import { createLocalAdapter } from '../../src/storage/local.js';

/**
 * createLocalAdapter for a test file, each adapter closed after its test: the pack handles
 * a local adapter keeps open were otherwise left to the garbage collector, and Node warns
 * of every one it closes ("Closing file descriptor … on garbage collection").
 */
export function localAdapters(): (opts: { name: string; path: string }) => StorageAdapter {
  const opened: StorageAdapter[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((adapter) => adapter.close?.()));
  });
  return (opts) => {
    const adapter = createLocalAdapter(opts);
    opened.push(adapter);
    return adapter;
  };
}
