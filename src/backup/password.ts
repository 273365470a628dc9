import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { UsageError } from '../core/errors.js';

export interface PasswordSettings {
  passwordFile?: string | undefined;
  passwordCommand?: string | undefined;
}

/**
 * Finds the repository password in the order of CLI.md: BKDR_PASSWORD,
 * BKDR_PASSWORD_FILE, BKDR_PASSWORD_COMMAND, the config's passwordFile /
 * passwordCommand, then `prompt` (a TTY prompt the CLI supplies), else exit 2.
 */
export async function resolvePassword(
  settings: PasswordSettings | undefined,
  prompt: (() => Promise<string>) | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const direct = env['BKDR_PASSWORD'];
  if (direct) return direct;
  const file = env['BKDR_PASSWORD_FILE'] ?? settings?.passwordFile;
  if (file) return firstLine(await readPasswordFile(file), `password file ${file}`);
  const command = env['BKDR_PASSWORD_COMMAND'] ?? settings?.passwordCommand;
  if (command) return firstLine(await runPasswordCommand(command), `password command '${command}'`);
  if (prompt) return prompt();
  throw new UsageError('no password: set BKDR_PASSWORD, BKDR_PASSWORD_FILE or BKDR_PASSWORD_COMMAND, or encryption.passwordFile in the config');
}

async function readPasswordFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read password file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

async function runPasswordCommand(command: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('/bin/sh', ['-c', command], { timeout: 30_000 });
    return stdout;
  } catch (err) {
    throw new UsageError(`password command '${command}' failed`, { cause: err });
  }
}

function firstLine(text: string, what: string): string {
  const line = text.split(/\r?\n/)[0] ?? '';
  if (!line) throw new UsageError(`${what} is empty`);
  return line;
}

/**
 * The new password for `key add` / `key passwd`: `--new-password-file`, else
 * BKDR_NEW_PASSWORD, else `prompt` (asks twice on a TTY), else exit 2.
 */
export async function resolveNewPassword(file: string | undefined, prompt: (() => Promise<string>) | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (file) return firstLine(await readPasswordFile(file), `password file ${file}`);
  const direct = env['BKDR_NEW_PASSWORD'];
  if (direct) return direct;
  if (prompt) return prompt();
  throw new UsageError('no new password: pass --new-password-file <file> or set BKDR_NEW_PASSWORD (or run on a terminal to be asked)');
}
