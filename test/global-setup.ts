import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Every CLI run of the suite keeps its hints (repo/keys-ahead.ts) in a cache directory of
 * the suite's own, removed at the end, not in the user's ~/.cache. The test processes and
 * the CLIs they start inherit it.
 */
export default function setup(): () => void {
  const cache = mkdtempSync(join(tmpdir(), 'bkdr-test-cache-'));
  process.env['XDG_CACHE_HOME'] = cache;
  return () => rmSync(cache, { recursive: true, force: true });
}
