import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { binNodeFlags, binPath } from '../../src/core/package-root.js';
import { makeTempDir } from '../helpers/cli.js';

describe('binNodeFlags', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  afterEach(async () => {
    await tmp?.cleanup();
    tmp = undefined;
  });

  const flagsOf = async (firstLine: string) => {
    tmp ??= await makeTempDir();
    const bin = join(tmp.path, 'bkdr.js');
    writeFileSync(bin, `${firstLine}\nconsole.log('bkdr');\n`);
    return binNodeFlags(bin);
  };

  it("reads the node flags of bin/bkdr.js's first line, which node accepts", () => {
    const flags = binNodeFlags();
    expect(flags).toContain('--max-semi-space-size=4');
    expect(spawnSync(process.execPath, [...flags, '-e', ''], { encoding: 'utf8' }).stderr).toBe('');
  });

  it('gives none for a first line without flags, and every flag of one with several', async () => {
    expect(await flagsOf('#!/usr/bin/env node')).toEqual([]);
    expect(await flagsOf('#!/usr/bin/env -S node')).toEqual([]);
    expect(await flagsOf('#!/usr/bin/env -S node --max-semi-space-size=4 --no-warnings')).toEqual(['--max-semi-space-size=4', '--no-warnings']);
  });

  it('lets the operator run bin/bkdr.js itself, through its first line', () => {
    expect(execFileSync(binPath(), ['--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
