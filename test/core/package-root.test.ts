import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { binNodeFlags, binPath } from '../../src/core/package-root.js';
import { makeTempDir } from '../helpers/cli.js';

const hasBusybox = spawnSync('busybox', ['true']).status === 0;

describe('binNodeFlags', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  afterEach(async () => {
    await tmp?.cleanup();
    tmp = undefined;
  });

  const flagsOf = async (firstLines: string) => {
    tmp ??= await makeTempDir();
    const bin = join(tmp.path, 'bkdr.js');
    writeFileSync(bin, `${firstLines}\nconsole.log('bkdr');\n`);
    return binNodeFlags(bin);
  };

  it("reads the node flags of bin/bkdr.js's exec line, which node accepts", () => {
    const flags = binNodeFlags();
    expect(flags).toContain('--max-semi-space-size=4');
    expect(spawnSync(process.execPath, [...flags, '-e', ''], { encoding: 'utf8' }).stderr).toBe('');
  });

  it('gives none without an exec line or a readable file, and every flag of an exec line with several', async () => {
    expect(await flagsOf('#!/usr/bin/env node')).toEqual([]);
    expect(await flagsOf('#!/bin/sh\n\':\' //; exec node "$0" "$@"')).toEqual([]);
    expect(await flagsOf('#!/bin/sh\n\':\' //; exec node --max-semi-space-size=4 --no-warnings "$0" "$@"')).toEqual(['--max-semi-space-size=4', '--no-warnings']);
    expect(binNodeFlags(join(tmp!.path, 'missing.js'))).toEqual([]);
  });

  it('lets the operator run bin/bkdr.js itself, through sh, and node run it as before', () => {
    expect(execFileSync(binPath(), ['--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(execFileSync(process.execPath, [binPath(), '--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  // Alpine's sh and env are BusyBox's: its env has no -S, which a `#!/usr/bin/env -S node <flags>` line needs.
  it.skipIf(!hasBusybox)("starts under BusyBox's sh, node getting the exec line's flags", async () => {
    expect(execFileSync('busybox', ['sh', binPath(), '--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+/);
    tmp ??= await makeTempDir();
    const probe = join(tmp.path, 'probe.mjs');
    const [shebang, exec] = readFileSync(binPath(), 'utf8').split('\n', 2);
    writeFileSync(probe, `${shebang}\n${exec}\nconsole.log(process.execArgv.join(' '));\n`);
    expect(execFileSync('busybox', ['sh', probe], { encoding: 'utf8' }).trim()).toBe(binNodeFlags().join(' '));
  });
});
