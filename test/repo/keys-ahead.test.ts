import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WrongPasswordError } from '../../src/core/errors.js';
import { configKeyOf, deriveKeysAhead, keyHintsFile, keysDerivedAhead, takeKeyDerivedAhead } from '../../src/repo/keys-ahead.js';
import { unlockMasterKey, writeKeyFile } from '../../src/repo/keys.js';
import type { StorageAdapter } from '../../src/storage/adapter.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir } from '../helpers/cli.js';

const REGISTRY = Symbol.for('bkdr.keysDerivedAhead');

describe('keys derived ahead', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let adapter: StorageAdapter;
  let masterKey: Buffer;
  let slot: { salt: Buffer; N: number; r: number; p: number };
  let env: Record<string, string>;
  const args = ['-c', 'backup.config.json', 'backup', 'run'];

  /** Hints naming the repository's one key slot for the config of `args`, as a run that opened it leaves them. */
  const writeHints = async (
    hints: unknown = {
      version: 1,
      configs: { [configKeyOf(args, env, tmp.path)]: { commands: ['backup'], slots: [{ salt: slot.salt.toString('base64'), N: slot.N, r: slot.r, p: slot.p }], used: Date.now() } },
    },
  ) => {
    await mkdir(join(tmp.path, 'cache', 'bkdr'), { recursive: true });
    await writeFile(keyHintsFile(env), typeof hints === 'string' ? hints : JSON.stringify(hints));
  };

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-keys-ahead-');
    adapter = createLocalAdapter({ name: 'ahead', path: join(tmp.path, 'repo') });
    masterKey = randomBytes(32);
    const { id } = await writeKeyFile(adapter, masterKey, 'pw');
    const file = JSON.parse(await readFile(join(tmp.path, 'repo', 'keys', id), 'utf8')) as { salt: string; N: number; r: number; p: number };
    slot = { salt: Buffer.from(file.salt, 'base64'), N: file.N, r: file.r, p: file.p };
    env = { BKDR_PASSWORD: 'pw', XDG_CACHE_HOME: join(tmp.path, 'cache') };
  });

  afterEach(async () => {
    // No registry left for this worker's exit to write hints from.
    delete (globalThis as Record<symbol, unknown>)[REGISTRY];
    await tmp.cleanup();
  });

  it('unlocks with the derivation the launcher started, taken once', async () => {
    await writeHints();
    deriveKeysAhead(args, env, tmp.path);
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 0 });
    const { key } = await unlockMasterKey(adapter, 'pw', undefined, () => true);
    expect(key.equals(masterKey)).toBe(true);
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 1 });
    // Taken once: nothing is left to take.
    expect(takeKeyDerivedAhead('pw', slot.salt, slot)).toBeUndefined();
  });

  it('leaves a derivation made for another password, and still unlocks with the right one', async () => {
    await writeHints();
    deriveKeysAhead(args, { ...env, BKDR_PASSWORD: 'other' }, tmp.path);
    const { key } = await unlockMasterKey(adapter, 'pw', undefined, () => true);
    expect(key.equals(masterKey)).toBe(true);
    expect(takeKeyDerivedAhead('other', slot.salt, slot)).toBeDefined();
  });

  it('tells a wrong password whose key was derived ahead as a wrong password', async () => {
    await writeHints();
    deriveKeysAhead(args, { ...env, BKDR_PASSWORD: 'wrong' }, tmp.path);
    await expect(unlockMasterKey(adapter, 'wrong', undefined, () => true)).rejects.toBeInstanceOf(WrongPasswordError);
  });

  it('takes the password from BKDR_PASSWORD_FILE when BKDR_PASSWORD is not set, as the CLI does', async () => {
    await writeHints();
    await writeFile(join(tmp.path, 'password'), 'pw\nsecond line\n');
    deriveKeysAhead(args, { XDG_CACHE_HOME: env['XDG_CACHE_HOME']!, BKDR_PASSWORD_FILE: 'password' }, tmp.path);
    await unlockMasterKey(adapter, 'pw', undefined, () => true);
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 1 });
  });

  it("takes the password from the config's password file that the hints name, unless the environment names another source", async () => {
    const file = join(tmp.path, 'config-password');
    await writeFile(file, 'pw\n');
    const key = configKeyOf(args, env, tmp.path);
    await writeHints({ version: 1, configs: { [key]: { commands: ['backup'], slots: [{ salt: slot.salt.toString('base64'), N: slot.N, r: slot.r, p: slot.p }], passwordFile: file, used: 1 } } });
    const cache = env['XDG_CACHE_HOME']!;
    // BKDR_PASSWORD_COMMAND comes first for the CLI: no file is read for it, and no command is run ahead.
    deriveKeysAhead(args, { XDG_CACHE_HOME: cache, BKDR_PASSWORD_COMMAND: 'echo pw' }, tmp.path);
    expect(keysDerivedAhead()).toEqual({ started: 0, taken: 0 });
    deriveKeysAhead(args, { XDG_CACHE_HOME: cache }, tmp.path);
    await unlockMasterKey(adapter, 'pw', undefined, () => true);
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 1 });
  });

  it('reads BKDR_PASSWORD_FILE only when it is a regular file: a FIFO is left for the CLI to read, and does not hold the start', async () => {
    await writeHints();
    const fifo = join(tmp.path, 'password-fifo');
    execFileSync('mkfifo', [fifo]);
    // A one-shot writer, as `BKDR_PASSWORD_FILE=<(pass show bkdr)` has: its line is the CLI's.
    const writer = spawn('/bin/sh', ['-c', `echo pw > '${fifo}'`], { stdio: 'ignore' });
    const written = new Promise((resolve) => writer.on('close', resolve));
    deriveKeysAhead(args, { XDG_CACHE_HOME: env['XDG_CACHE_HOME']!, BKDR_PASSWORD_FILE: fifo }, tmp.path);
    expect(keysDerivedAhead()).toEqual({ started: 0, taken: 0 });
    expect(await readFile(fifo, 'utf8')).toBe('pw\n');
    await written;
  });

  it('derives for restore before any restore ran with the config: it always opens a repository', async () => {
    await writeHints();
    deriveKeysAhead(['-c', 'backup.config.json', 'restore', '--target', 'out'], env, tmp.path);
    await unlockMasterKey(adapter, 'pw', undefined, () => true);
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 1 });
  });

  it('derives nothing for a command that never opened a repository, another config, or --version', async () => {
    await writeHints();
    for (const other of [
      ['-c', 'backup.config.json', 'dr', 'status'],
      ['-c', 'other.config.json', 'restore', '--target', 'out'],
      ['-c', 'other.config.json', 'backup', 'list'],
      ['-c', 'backup.config.json', 'backup', 'run', '--version'],
    ]) {
      deriveKeysAhead(other, env, tmp.path);
      expect(keysDerivedAhead()?.started ?? 0, other.join(' ')).toBe(0);
    }
  });

  it('ignores a damaged or foreign hints file', async () => {
    const hinted = (s: unknown) => ({ version: 1, configs: { [configKeyOf(args, env, tmp.path)]: { commands: ['backup'], slots: [s], used: 1 } } });
    const base64 = slot.salt.toString('base64');
    for (const hints of [
      'not json',
      'null',
      { version: 2, configs: {} },
      { version: 1, configs: null },
      hinted({ salt: base64, N: 2 ** 24, r: 8, p: 1 }),
      hinted({ salt: base64, N: 3000, r: 8, p: 1 }),
      hinted({ salt: base64, N: 2 ** 15, r: 8, p: 64 }),
      hinted({ salt: 42, N: 2 ** 15, r: 8, p: 1 }),
    ]) {
      await writeHints(hints);
      // A restore: a first `backup run` of a config without sound hints would derive a new slot's key.
      expect(() => deriveKeysAhead(['-c', 'backup.config.json', 'restore', '--target', 'out'], env, tmp.path)).not.toThrow();
      expect(keysDerivedAhead(), JSON.stringify(hints)).toEqual({ started: 0, taken: 0 });
    }
    // And the run still opens the repository.
    const { key } = await unlockMasterKey(adapter, 'pw', undefined, () => true);
    expect(key.equals(masterKey)).toBe(true);
  });

  it("derives a new slot's key for a config's first backup run, which the repository's creation takes, once", async () => {
    deriveKeysAhead(args, env, tmp.path);
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 0 });
    const fresh = createLocalAdapter({ name: 'new', path: join(tmp.path, 'new-repo') });
    const newKey = randomBytes(32);
    const written = await writeKeyFile(fresh, newKey, 'pw');
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 1 });
    // The key wraps the master key under the salt the slot holds: the password opens it.
    const { key } = await unlockMasterKey(fresh, 'pw', undefined, () => true);
    expect(key.equals(newKey)).toBe(true);
    // A second repository of the same run draws its own salt.
    const second = createLocalAdapter({ name: 'second', path: join(tmp.path, 'second-repo') });
    const other = await writeKeyFile(second, randomBytes(32), 'pw');
    expect(other.salt.equals(written.salt)).toBe(false);
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 1 });
  });

  it('derives the new slot again, with the salt drawn ahead, when the derivation ahead failed', async () => {
    deriveKeysAhead(args, env, tmp.path);
    const registry = (globalThis as Record<symbol, { newSlot: { derived: Promise<Buffer> } }>)[REGISTRY]!;
    registry.newSlot.derived = Promise.reject(new Error('out of memory'));
    registry.newSlot.derived.catch(() => undefined);
    const fresh = createLocalAdapter({ name: 'new', path: join(tmp.path, 'new-repo') });
    const newKey = randomBytes(32);
    await writeKeyFile(fresh, newKey, 'pw');
    expect((await unlockMasterKey(fresh, 'pw', undefined, () => true)).key.equals(newKey)).toBe(true);
  });

  it('derives no new slot for another password, a config with hints (with no slot: an unencrypted repository), a command that creates no repository, or a layout it does not read', async () => {
    deriveKeysAhead(args, { ...env, BKDR_PASSWORD: 'other' }, tmp.path);
    const fresh = createLocalAdapter({ name: 'new', path: join(tmp.path, 'new-repo') });
    const newKey = randomBytes(32);
    await writeKeyFile(fresh, newKey, 'pw');
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 0 });
    expect((await unlockMasterKey(fresh, 'pw', undefined, () => true)).key.equals(newKey)).toBe(true);
    for (const other of [
      ['-c', 'backup.config.json', 'backup', 'list'],
      ['-c', 'backup.config.json', 'restore', '--target', 'run'],
      ['-c', 'backup.config.json', 'backup', '--json', 'verify', '--destination', 'backup', 'run'],
      // A backup run, but an option between the two words: it costs this head start only.
      ['-c', 'backup.config.json', 'backup', '--json', 'run'],
    ]) {
      deriveKeysAhead(other, env, tmp.path);
      expect(keysDerivedAhead()?.started, other.join(' ')).toBe(0);
    }
    for (const layout of [
      ['backup', 'run', '-c', 'backup.config.json'],
      ['--json', '-qc', 'backup.config.json', 'backup', 'run', '--source', 'files'],
      ['--config=backup.config.json', 'backup', 'run'],
    ]) {
      deriveKeysAhead(layout, env, tmp.path);
      expect(keysDerivedAhead()?.started, layout.join(' ')).toBe(1);
    }
    // Hints with no slot: a run of the config opened only unencrypted repositories.
    await writeHints({ version: 1, configs: { [configKeyOf(args, env, tmp.path)]: { commands: ['backup'], slots: [], used: 1 } } });
    deriveKeysAhead(args, env, tmp.path);
    expect(keysDerivedAhead()?.started).toBe(0);
    // With hints, only their slot: writing a new one derives its key then.
    await writeHints();
    deriveKeysAhead(args, env, tmp.path);
    await writeKeyFile(createLocalAdapter({ name: 'third', path: join(tmp.path, 'third-repo') }), randomBytes(32), 'pw');
    expect(keysDerivedAhead()).toEqual({ started: 1, taken: 0 });
  });

  it('names a config as the CLI finds it: --config in its forms, else BKDR_CONFIG, else the search from the working directory', () => {
    const cwd = '/work/here';
    expect(configKeyOf(['-c', 'a.json', 'backup', 'run'], {}, cwd)).toBe('file:/work/here/a.json');
    expect(configKeyOf(['backup', 'run', '--config', '/etc/bkdr.json'], {}, cwd)).toBe('file:/etc/bkdr.json');
    expect(configKeyOf(['--config=../b.json', 'restore'], {}, cwd)).toBe('file:/work/b.json');
    expect(configKeyOf(['-cc.json', 'backup'], {}, cwd)).toBe('file:/work/here/c.json');
    expect(configKeyOf(['backup', 'run'], { BKDR_CONFIG: 'd.json' }, cwd)).toBe('file:/work/here/d.json');
    expect(configKeyOf(['backup', 'run', '--', '-c', 'e.json'], {}, cwd)).toBe('search:/work/here');
    expect(configKeyOf(['-qc', 'f.json', 'backup', 'run'], {}, cwd)).toBe('file:/work/here/f.json');
    expect(configKeyOf(['-yvcg.json', 'backup'], {}, cwd)).toBe('file:/work/here/g.json');
    expect(configKeyOf(['-c', 'first.json', 'backup', 'run', '-c', 'last.json'], {}, cwd)).toBe('file:/work/here/last.json');
  });
});
