import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resolvePassword } from '../../src/runtime/password.js';
import { UsageError } from '../../src/core/errors.js';
import { makeTempDir } from '../helpers/cli.js';

/** The error resolvePassword throws for `command`, run through the real /bin/sh. */
async function failureOf(command: string): Promise<UsageError> {
  const err: unknown = await resolvePassword(undefined, undefined, { BKDR_PASSWORD_COMMAND: command }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  return err as UsageError;
}

describe('password sources', () => {
  it('takes the environment before the config, as CLI.md orders them', async () => {
    const tmp = await makeTempDir('bkdr-password-');
    try {
      const file = (name: string, text: string) => writeFile(join(tmp.path, name), text).then(() => join(tmp.path, name));
      const settings = { passwordFile: await file('config-file', 'from-config-file\n'), passwordCommand: 'echo from-config-command' };
      expect(await resolvePassword(settings, undefined, { BKDR_PASSWORD: 'direct', BKDR_PASSWORD_FILE: await file('env-file', 'from-env-file') })).toBe('direct');
      expect(await resolvePassword(settings, undefined, { BKDR_PASSWORD_FILE: join(tmp.path, 'env-file'), BKDR_PASSWORD_COMMAND: 'echo from-env-command' })).toBe('from-env-file');
      expect(await resolvePassword(settings, undefined, { BKDR_PASSWORD_COMMAND: 'echo from-env-command' })).toBe('from-env-command');
      expect(await resolvePassword(settings, undefined, {})).toBe('from-config-file');
      expect(await resolvePassword({ passwordCommand: settings.passwordCommand }, undefined, {})).toBe('from-config-command');
    } finally {
      await tmp.cleanup();
    }
  });
});

describe('password command', () => {
  it('returns the first line of what the command prints', async () => {
    expect(await resolvePassword({ passwordCommand: 'printf "s3cret\\nignored\\n"' }, undefined, {})).toBe('s3cret');
  });

  it('says why a command failed: its stderr and exit code, on one line, exit 2', async () => {
    const err = await failureOf("echo 'gpg: decryption failed: No secret key' >&2; echo 'second line' >&2; echo 'third line' >&2; exit 3");
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/^password command '.*' failed \(exit 3\): gpg: decryption failed: No secret key; second line$/);
  });

  it('names the signal that killed the command', async () => {
    const err = await failureOf('echo dying >&2; kill -TERM $$');
    expect(err.message).toMatch(/failed \(killed by SIGTERM\): dying$/);
  });

  it('caps a long stderr', async () => {
    const err = await failureOf("printf 'x%.0s' $(seq 1 5000) >&2; exit 1");
    expect(err.message).toMatch(/failed \(exit 1\): x+…$/);
    expect(err.message.length).toBeLessThan(300);
  });

  it('never shows what the failing command printed on stdout: it may be the password', async () => {
    // upper-cased by tr, so the secret it prints is not in the command's own text
    const err = await failureOf("echo hunter2-the-secret | tr a-z A-Z; echo 'vault: token expired' >&2; exit 1");
    expect(err.message).toMatch(/failed \(exit 1\): vault: token expired$/);
    // nor anywhere in the error and its causes, which --verbose prints
    expect(inspect(err, { depth: 10 })).not.toContain('HUNTER2-THE-SECRET');
  });
});
