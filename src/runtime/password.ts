import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../core/errors.js';
import { passwordLine } from '../core/password-line.js';
import { notePasswordFile } from '../repo/keys-ahead.js';

export interface PasswordSettings {
  passwordFile?: string | undefined;
  passwordCommand?: string | undefined;
}

/**
 * Finds the repository password in the order of CLI.md: BKDR_PASSWORD,
 * BKDR_PASSWORD_FILE, BKDR_PASSWORD_COMMAND, the config's passwordFile /
 * passwordCommand, then `prompt` (a TTY prompt the CLI supplies), else exit 2.
 */
export async function resolvePassword(settings: PasswordSettings | undefined, prompt: (() => Promise<string>) | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const direct = env['BKDR_PASSWORD'];
  if (direct) return direct;
  // The environment's sources before the config's: an operator's override wins over the file.
  const envFile = env['BKDR_PASSWORD_FILE'];
  if (envFile) return fromFile(envFile);
  const envCommand = env['BKDR_PASSWORD_COMMAND'];
  if (envCommand) return fromCommand(envCommand);
  if (settings?.passwordFile) {
    const password = await fromFile(settings.passwordFile);
    // The launcher cannot read the config: it learns this path from the run's hints (repo/keys-ahead.ts).
    notePasswordFile(settings.passwordFile);
    return password;
  }
  if (settings?.passwordCommand) return fromCommand(settings.passwordCommand);
  if (prompt) return prompt();
  throw new UsageError('no password: set BKDR_PASSWORD, BKDR_PASSWORD_FILE or BKDR_PASSWORD_COMMAND, or encryption.passwordFile in the config');
}

/**
 * The password file named by BKDR_PASSWORD_FILE, as an absolute path: what a point-in-time
 * restore writes into PostgreSQL's restore_command, which runs later, from another folder.
 */
export function passwordFileFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env['BKDR_PASSWORD_FILE'];
  return file ? resolve(file) : undefined;
}

async function fromFile(file: string): Promise<string> {
  return firstLine(await readPasswordFile(file), `password file ${file}`);
}

async function fromCommand(command: string): Promise<string> {
  return firstLine(await runPasswordCommand(command), `password command '${command}'`);
}

async function readPasswordFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read password file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

const PASSWORD_COMMAND_TIMEOUT_MS = 30_000;

async function runPasswordCommand(command: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('/bin/sh', ['-c', command], { timeout: PASSWORD_COMMAND_TIMEOUT_MS });
    return stdout;
  } catch (err) {
    const failure = err as { code?: unknown; signal?: unknown; killed?: boolean; stderr?: unknown; stdout?: unknown };
    // Its stdout is the password, or part of it: kept out of the message and off the cause (--verbose prints causes).
    delete failure.stdout;
    const stderr = typeof failure.stderr === 'string' ? summarize(failure.stderr) : '';
    throw new UsageError(`password command '${command}' failed (${howItEnded(failure)})${stderr ? `: ${stderr}` : ''}`, { cause: err });
  }
}

function howItEnded(failure: { code?: unknown; signal?: unknown; killed?: boolean }): string {
  if (typeof failure.code === 'number') return `exit ${failure.code}`;
  if (typeof failure.code === 'string') return failure.code; // ENOENT, ERR_CHILD_PROCESS_STDIO_MAXBUFFER
  // execFile sets `killed` when it sent the signal itself, which (with no code) is the timeout
  if (failure.killed) return `timed out after ${PASSWORD_COMMAND_TIMEOUT_MS / 1000} s`;
  return typeof failure.signal === 'string' ? `killed by ${failure.signal}` : 'no exit status';
}

/** The first two non-empty lines of the command's stderr, on one line and at most 200 characters. */
function summarize(stderr: string): string {
  const text = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(0, 2)
    .join('; ');
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function firstLine(text: string, what: string): string {
  const line = passwordLine(text);
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
  throw new UsageError('no new password: BKDR_NEW_PASSWORD is not set and there is no terminal to ask on', { remedy: { option: 'newPasswordFile' } });
}
