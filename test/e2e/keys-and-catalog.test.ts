import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace, runBkdr } from '../helpers/cli.js';

interface Listed {
  id: string;
  time: string;
}

describe('key slots and catalog rebuild', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  const as = (password: string, args: string[], extra: NodeJS.ProcessEnv = {}) => runBkdr(['-c', ws.config, ...args], { cwd: tmp.path, env: { ...ws.env, BKDR_PASSWORD: password, ...extra } });

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-keys-');
    src = join(tmp.path, 'src');
    await mkdir(src);
    await writeFile(join(src, 'a.txt'), 'alpha');
    ws = await makeWorkspace(tmp.path, [src]);
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    await writeFile(join(src, 'b.txt'), 'beta');
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it('key add, then key remove of the original: the repository opens with the new password only', async () => {
    const before = JSON.parse((await ws.run(['--json', 'key', 'list'])).stdout) as { keys: { id: string; current: boolean }[] }[];
    expect(before[0]!.keys).toHaveLength(1);
    const original = before[0]!.keys[0]!.id;

    const added = await as('test-password', ['key', 'add'], { BKDR_NEW_PASSWORD: 'second-password' });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/local: added key [0-9a-f]{8}/);
    // Both open it now; the original key may not remove itself.
    expect((await as('second-password', ['backup', 'list'])).code).toBe(0);
    const self = await as('test-password', ['key', 'remove', original.slice(0, 8)]);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/it is the one this password opened/);

    const removed = await as('second-password', ['key', 'remove', original.slice(0, 8)]);
    expect(removed.code, removed.stderr).toBe(0);
    const old = await as('test-password', ['backup', 'list']);
    expect(old.code).toBe(2);
    expect(old.stderr).toMatch(/wrong password for destination local/);
    expect((await as('second-password', ['restore', '--target', join(tmp.path, 'with-new')])).code).toBe(0);

    // The last key is never removed; key files are readable by their owner only.
    const keys = JSON.parse((await as('second-password', ['--json', 'key', 'list'])).stdout) as { keys: { id: string }[] }[];
    const last = await as('second-password', ['key', 'remove', keys[0]!.keys[0]!.id.slice(0, 8)]);
    expect(last.code).toBe(2);
    expect(last.stderr).toMatch(/refusing to remove the last key/);
    for (const f of await readdir(join(ws.repo, 'keys'))) expect((await stat(join(ws.repo, 'keys', f))).mode & 0o777).toBe(0o600);
  });

  it('key passwd swaps the password without rewriting data', async () => {
    const packsBefore = (await readdir(join(ws.repo, 'data'), { recursive: true })).sort();
    const changed = await as('second-password', ['key', 'passwd'], { BKDR_NEW_PASSWORD: 'third-password' });
    expect(changed.code, changed.stderr).toBe(0);
    expect((await as('second-password', ['backup', 'list'])).code).toBe(2);
    expect((await as('third-password', ['backup', 'list'])).code).toBe(0);
    expect((await readdir(join(ws.repo, 'data'), { recursive: true })).sort()).toEqual(packsBefore);
    const noPassword = await as('third-password', ['key', 'add']);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toMatch(/no new password/);
  });

  it('deleting the catalog loses no backup: catalog rebuild brings back the list, and restore works', async () => {
    const listed = JSON.parse((await as('third-password', ['--json', 'backup', 'list'])).stdout) as Listed[];
    expect(listed).toHaveLength(2);
    for (const suffix of ['', '-wal', '-shm']) await rm(join(tmp.path, `catalog.db${suffix}`), { force: true });

    const rebuilt = await as('third-password', ['catalog', 'rebuild']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toBe('local: 2 backups in the catalog (2 added, 0 no longer in the repository)\n');
    const after = JSON.parse((await as('third-password', ['--json', 'backup', 'list'])).stdout) as Listed[];
    expect(after.map((b) => b.id).sort()).toEqual(listed.map((b) => b.id).sort());
    const oldest = listed.sort((a, b) => a.time.localeCompare(b.time))[0]!;
    const restore = await as('third-password', ['restore', oldest.id, '--target', join(tmp.path, 'after-rebuild')]);
    expect(restore.code, restore.stderr).toBe(0);
  });
});
