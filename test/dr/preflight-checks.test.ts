import { chmodSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandFound, diskRoom, endpointResolves, targetEmptyOrAbsent } from '../../src/dr/preflight-checks.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bkdr-preflight-'));
  dirs.push(d);
  return d;
}

describe('commandFound', () => {
  it('finds the first word on PATH, after variable assignments', async () => {
    expect(await commandFound('sh -c "exit 0"')).toMatchObject({ ok: true, detail: expect.stringMatching(/^sh found at \/.*\/sh$/) as unknown });
    expect((await commandFound('PGDATA=/srv/pg LANG=C ls -l /')).detail).toMatch(/^ls found at /);
  });

  it('does not find a command that is nowhere', async () => {
    expect(await commandFound('no-such-tool-bkdr --start')).toEqual({ ok: false, detail: 'no-such-tool-bkdr not found on PATH' });
  });

  it.each(['cd /srv && ./start', 'test -f /etc/hosts', '[ -d /tmp ]', 'echo hi', 'true', 'exit 0', '(cd /srv; make)', 'if true; then x; fi'])(
    'counts %s as found: the shell runs it',
    async (command) => {
      expect((await commandFound(command)).ok).toBe(true);
    },
  );

  it('checks a path: executable, not executable, missing, relative to cwd', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(dir, 'run.sh'), 0o755);
    writeFileSync(join(dir, 'data.txt'), 'x');
    expect(await commandFound(`${join(dir, 'run.sh')} --now`)).toEqual({ ok: true, detail: `${join(dir, 'run.sh')} is executable` });
    expect(await commandFound(`"${join(dir, 'run.sh')}"`)).toMatchObject({ ok: true });
    expect(await commandFound('./run.sh', dir)).toMatchObject({ ok: true });
    expect(await commandFound(join(dir, 'missing'))).toEqual({ ok: false, detail: `${join(dir, 'missing')} is not an executable file` });
    // A directory is not a command, even though it has the x bit.
    expect((await commandFound(dir)).ok).toBe(false);
    if (process.getuid?.() !== 0) expect((await commandFound(join(dir, 'data.txt'))).ok).toBe(false);
  });
});

describe('endpointResolves', () => {
  it.each(['localhost', 'localhost:5432', 'http://localhost:8080/health', 'https://localhost/'])('resolves %s', async (target) => {
    const result = await endpointResolves(target);
    expect(result.ok).toBe(true);
    expect(result.detail).toMatch(/^localhost resolves to /);
  });

  it.each(['127.0.0.1', '127.0.0.1:9', '[::1]:5432', 'http://[::1]:80/'])('takes the literal IP of %s as it is', async (target) => {
    expect(await endpointResolves(target)).toMatchObject({ ok: true, detail: expect.stringMatching(/ is an IP address$/) as unknown });
  });

  it('says why a name does not resolve', async () => {
    const result = await endpointResolves('https://no-such-host.invalid/hook');
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^no-such-host\.invalid does not resolve: /);
    expect((await endpointResolves('no-such-host.invalid:443')).ok).toBe(false);
  });

  it('does not throw on a malformed URL', async () => {
    expect((await endpointResolves('http://')).ok).toBe(false);
  });
});

describe('diskRoom', () => {
  it('measures the nearest existing ancestor of a path still to be created', async () => {
    const dir = tempDir();
    const result = await diskRoom(join(dir, 'restore', 'deep'), 1024);
    expect(result.ok).toBe(true);
    expect(result.detail).toMatch(new RegExp(`^[\\d.]+ [KMGTP]?i?B free on ${dir}, 1.10 KiB needed \\(1.00 KiB \\+ 10%\\)$`));
  });

  it('fails when the free space is short of the need plus the margin', async () => {
    const dir = tempDir();
    const { bavail, bsize } = statfsSync(dir);
    const free = bavail * bsize;
    // Just under the free space, but not with 10% on top.
    const result = await diskRoom(dir, Math.floor(free / 1.05));
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/ free on .*, .* needed \(.* \+ 10%\)$/);
  });
});

describe('targetEmptyOrAbsent', () => {
  it('accepts an absent path and an empty directory', async () => {
    const dir = tempDir();
    expect(await targetEmptyOrAbsent(join(dir, 'new'))).toEqual({ ok: true, detail: `${join(dir, 'new')} does not exist yet` });
    expect(await targetEmptyOrAbsent(dir)).toEqual({ ok: true, detail: `${dir} is an empty directory` });
  });

  it('refuses a directory with entries, and a file', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'file'), 'x');
    expect(await targetEmptyOrAbsent(dir)).toEqual({ ok: false, detail: `${dir} is not empty: it holds 2 entries` });
    expect(await targetEmptyOrAbsent(join(dir, 'file'))).toEqual({ ok: false, detail: `${join(dir, 'file')} exists and is not a directory` });
  });
});
