import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey, unseal } from '../../src/repo/crypto.js';
import { makeTempDir, makeWorkspace, runBkdr } from '../helpers/cli.js';

/** Distinctive enough that finding it anywhere is no coincidence. */
const PASSWORD = 'pw-Quokka-7f3e9b21-Zanzibar';
const SECRET_NAME = 'secret-name';

interface KeySlot {
  N: number;
  r: number;
  p: number;
  salt: string;
  data: string;
}

/**
 * The catalog is a plain SQLite file next to the config and the repository is what goes
 * off-site: neither may hold the password, the key material, or (encrypted) a file name.
 */
describe('secrets stay out of the catalog and the repository', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let catalogBytes: Buffer;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-no-secrets-');
    // The directory's name is in the snapshot's paths as well as in its tree.
    const src = join(tmp.path, `${SECRET_NAME}-dir`);
    await mkdir(src);
    await writeFile(join(src, `${SECRET_NAME}.txt`), 'the content of a file whose name is private');
    ws = await makeWorkspace(tmp.path, [src]);
    const run = (args: string[]) => runBkdr(['-c', ws.config, ...args], { cwd: tmp.path, env: { ...ws.env, BKDR_PASSWORD: PASSWORD } });

    const backup = await run(['--json', 'backup', 'run']);
    expect(backup.code, backup.stderr).toBe(0);
    const id = (JSON.parse(backup.stdout) as { backups: { snapshotId: string }[] }).backups[0]!.snapshotId;
    const restore = await run(['restore', id, '--target', join(tmp.path, 'restored')]);
    expect(restore.code, restore.stderr).toBe(0);
    const list = await run(['backup', 'list']);
    expect(list.code, list.stderr).toBe(0);

    // SQLite keeps recent pages in the WAL (and a journal while writing): read every file it may use.
    const catalog = ws.env.BKDR_CATALOG!;
    const parts = ['', '-wal', '-journal', '-shm'].map((suffix) => `${catalog}${suffix}`).filter((path) => existsSync(path));
    catalogBytes = Buffer.concat(await Promise.all(parts.map((path) => readFile(path))));
    expect(catalogBytes.length).toBeGreaterThan(0);
  });
  afterAll(() => tmp.cleanup());

  const keyFiles = async () => (await readdir(join(ws.repo, 'keys'))).map((name) => join(ws.repo, 'keys', name));

  it('the catalog holds no password', () => {
    const forms: Record<string, Buffer> = {
      utf8: Buffer.from(PASSWORD),
      utf16le: Buffer.from(PASSWORD, 'utf16le'),
      base64: Buffer.from(Buffer.from(PASSWORD).toString('base64')),
      hex: Buffer.from(Buffer.from(PASSWORD).toString('hex')),
    };
    for (const [encoding, bytes] of Object.entries(forms)) expect(catalogBytes.includes(bytes), encoding).toBe(false);
  });

  it('the catalog holds no key slot and no master key', async () => {
    const files = await keyFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const slot = JSON.parse(await readFile(file, 'utf8')) as KeySlot;
      const master = unseal(await deriveKey(PASSWORD, Buffer.from(slot.salt, 'base64'), { N: slot.N, r: slot.r, p: slot.p }), Buffer.from(slot.data, 'base64'));
      const secrets: [string, Buffer][] = [
        ['key slot data', Buffer.from(slot.data)],
        ['key slot data, hex', Buffer.from(Buffer.from(slot.data, 'base64').toString('hex'))],
        ['master key', master],
        ['master key, hex', Buffer.from(master.toString('hex'))],
        ['master key, base64', Buffer.from(master.toString('base64'))],
      ];
      for (const [what, bytes] of secrets) expect(catalogBytes.includes(bytes), what).toBe(false);
    }
  });

  it('key files are readable by their owner only', async () => {
    for (const file of await keyFiles()) expect(((await stat(file)).mode & 0o777).toString(8), relative(ws.repo, file)).toBe('600');
  });

  it('no object name or content in an encrypted repository reveals a file name', async () => {
    const needle = Buffer.from(SECRET_NAME);
    const leaks: string[] = [];
    const visit = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.name.includes(SECRET_NAME)) leaks.push(`name of ${relative(ws.repo, path)}`);
        if (entry.isDirectory()) await visit(path);
        else if (entry.isFile() && (await readFile(path)).includes(needle)) leaks.push(`content of ${relative(ws.repo, path)}`);
      }
    };
    await visit(ws.repo);
    expect(leaks).toEqual([]);
    // Not vacuous: the name went into the backup, and came back out of it.
    expect((await readdir(join(tmp.path, 'restored', tmp.path, `${SECRET_NAME}-dir`))).includes(`${SECRET_NAME}.txt`)).toBe(true);
  });
});
