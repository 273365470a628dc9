import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

/** What `npm pack` would put in the tarball, read from the built tree (`npm run build` first). */
async function packedFiles(): Promise<string[]> {
  // --ignore-scripts: `prepare` would rebuild, which the test run has already done.
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8' });
  const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  return pack.files.map((f) => f.path);
}

describe('the npm package', () => {
  let files: string[];
  beforeAll(async () => {
    files = await packedFiles();
  });

  it('carries the license that package.json names', () => {
    expect(files).toContain('LICENSE');
  });

  it('holds the CLI and the library with its types', () => {
    expect(files).toEqual(expect.arrayContaining(['bin/bkdr.js', 'dist/index.js', 'dist/index.d.ts']));
  });

  it('ships no source maps', () => {
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
  });
});
