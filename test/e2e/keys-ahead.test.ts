import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace, runBkdr } from '../helpers/cli.js';

/** The key-slot hints the launcher derives from (repo/keys-ahead.ts), as a run left them. */
interface Hints {
  version: 1;
  configs: Record<string, { commands: string[]; slots: { salt: string; N: number; r: number; p: number }[] }>;
}

describe('key slots derived while the CLI starts', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let cache: string;
  /** The first run of the config, which created the repository. */
  let created: Awaited<ReturnType<typeof runBkdr>>;
  const hintsPath = () => join(cache, 'bkdr', 'key-slots.json');
  const hints = async () => JSON.parse(await readFile(hintsPath(), 'utf8')) as Hints;
  const saltsOf = async (repo: string) => Promise.all((await readdir(join(repo, 'keys'))).map(async (id) => (JSON.parse(await readFile(join(repo, 'keys', id), 'utf8')) as { salt: string }).salt));
  const run = (args: string[], password = 'test-password') => runBkdr(['-c', ws.config, ...args], { cwd: tmp.path, env: { ...ws.env, BKDR_PASSWORD: password, XDG_CACHE_HOME: cache } });

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-keys-ahead-');
    cache = join(tmp.path, 'cache');
    await mkdir(join(tmp.path, 'src'));
    await writeFile(join(tmp.path, 'src', 'a.txt'), 'alpha');
    ws = await makeWorkspace(tmp.path, [join(tmp.path, 'src')]);
    created = await run(['-v', 'backup', 'run']);
    expect(created.code, created.stderr).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it('keeps the slots a run opened, for its config, and forgets a slot no run opens any more', async () => {
    // The run that created the repository (beforeAll), with no hints yet, derived its new slot's key while it loaded.
    expect(created.stderr).toContain('keys derived while the CLI loaded: 1 of 1 taken');
    // It kept the slot it wrote: the next run opens it.
    const kept = await hints();
    expect(Object.keys(kept.configs)).toEqual([`file:${ws.config}`]);
    expect(kept.configs[`file:${ws.config}`]!.commands).toEqual(['backup']);
    expect(kept.configs[`file:${ws.config}`]!.slots.map((s) => s.salt)).toEqual(await saltsOf(ws.repo));
    expect((await stat(hintsPath())).mode & 0o777).toBe(0o600);
    expect((await stat(join(cache, 'bkdr'))).mode & 0o777).toBe(0o700);

    // Derived ahead and taken: the run opens as before, and the file is left as it was.
    const before = await stat(hintsPath());
    const second = await run(['-v', 'backup', 'run']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('keys derived while the CLI loaded: 1 of 1 taken');
    expect((await stat(hintsPath())).mtimeMs).toBe(before.mtimeMs);

    const restored = await run(['restore', '--target', join(tmp.path, 'restored')]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(await readFile(join(tmp.path, 'restored', tmp.path, 'src', 'a.txt'), 'utf8')).toBe('alpha');
    expect((await hints()).configs[`file:${ws.config}`]!.commands.sort()).toEqual(['backup', 'restore']);

    // A new repository where the old one was: its first backup derives the old slot for nothing, then keeps its own.
    const oldSalts = await saltsOf(ws.repo);
    await rm(ws.repo, { recursive: true });
    await rm(join(tmp.path, 'catalog.db'), { force: true });
    const fresh = await run(['-v', 'backup', 'run']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).toContain('keys derived while the CLI loaded: 0 of 1 taken');
    const newSalts = await saltsOf(ws.repo);
    expect(newSalts).not.toEqual(oldSalts);
    expect((await hints()).configs[`file:${ws.config}`]!.slots.map((s) => s.salt)).toEqual(newSalts);
  });

  it("keeps the config's password file among its hints, for a launcher that cannot read the config", async () => {
    const dir = join(tmp.path, 'by-file');
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'src', 'b.txt'), 'beta');
    await writeFile(join(dir, 'password'), 'from-the-config\n');
    const byFile = await makeWorkspace(dir, [join(dir, 'src')], { encryption: { passwordFile: join(dir, 'password') } });
    const env = { ...byFile.env, BKDR_PASSWORD: '', XDG_CACHE_HOME: cache };
    const r = await runBkdr(['-c', byFile.config, 'backup', 'run'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    const kept = (await hints()).configs[`file:${byFile.config}`]!;
    expect(kept).toMatchObject({ commands: ['backup'], passwordFile: join(dir, 'password') });
    expect(kept.slots.map((s) => s.salt)).toEqual(await saltsOf(byFile.repo));
    // And the next run derives ahead from that file.
    const next = await runBkdr(['-c', byFile.config, '-v', 'backup', 'list'], { cwd: dir, env });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain('keys derived while the CLI loaded: 1 of 1 taken');
  });

  it('notes a config whose repository has no key slot (unencrypted), so its next backup runs derive nothing', async () => {
    const dir = join(tmp.path, 'plain');
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'src', 'c.txt'), 'gamma');
    const plain = await makeWorkspace(dir, [join(dir, 'src')]);
    const config = JSON.parse(await readFile(plain.config, 'utf8')) as { destinations: Record<string, unknown>[] };
    config.destinations[0]!['encryption'] = false;
    await writeFile(plain.config, JSON.stringify(config));
    const env = { ...plain.env, XDG_CACHE_HOME: cache };
    const first = await runBkdr(['-c', plain.config, '-v', 'backup', 'run'], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);
    // No hints yet: a new slot's key was derived, and the unencrypted repository had no use for it.
    expect(first.stderr).toContain('keys derived while the CLI loaded: 0 of 1 taken');
    expect((await hints()).configs[`file:${plain.config}`]).toMatchObject({ commands: ['backup'], slots: [] });
    const second = await runBkdr(['-c', plain.config, '-v', 'backup', 'run'], { cwd: dir, env });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('keys derived while the CLI loaded');
  });

  it('a wrong password is told as before, with the right slot derived ahead, and changes no hint', async () => {
    const before = await readFile(hintsPath(), 'utf8');
    const wrong = await run(['-v', 'backup', 'list'], 'not-the-password');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/wrong password for destination local/);
    expect(wrong.stderr).toContain('keys derived while the CLI loaded: 1 of 1 taken');
    expect(await readFile(hintsPath(), 'utf8')).toBe(before);
  });
});
