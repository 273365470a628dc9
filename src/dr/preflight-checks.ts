import { formatBytes } from '../core/bytes.js';
import { constants } from 'node:fs';
import { access, readdir, stat, statfs } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';

/**
 * What a dry run checks before it would run a plan. Each check answers, never throws: a
 * preflight lists every problem at once rather than stopping at the first.
 */
export interface PreflightResult {
  ok: boolean;
  detail: string;
}

/** Words that /bin/sh runs itself, or that begin syntax whose command comes later: nothing on PATH to find. */
const SHELL_OWN = new Set([
  ':',
  '.',
  '[',
  'break',
  'cd',
  'continue',
  'echo',
  'eval',
  'exec',
  'exit',
  'export',
  'false',
  'printf',
  'read',
  'readonly',
  'return',
  'set',
  'shift',
  'source',
  'test',
  'trap',
  'true',
  'ulimit',
  'umask',
  'unset',
  'wait',
  'if',
  'for',
  'while',
  'until',
  'case',
  '!',
  '{',
  '(',
]);

function why(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

/** The first word of a shell command after any `VAR=value` assignments, unquoted; undefined for an empty command. */
function firstWord(command: string): string | undefined {
  // Words split on blanks, quotes kept together: enough for the command's name, which rarely has more.
  const words = command.match(/(?:[^\s'"]+|'[^']*'|"[^"]*")+/g) ?? [];
  const word = words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  if (word === undefined) return undefined;
  // `(cd x && y)` and `{ x; }` glue their opener to the next word.
  const opener = /^[({]/.exec(word)?.[0];
  return opener ?? word.replace(/'([^']*)'|"([^"]*)"/g, '$1$2');
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether the command a `command` step (or notify, or a source) would run exists: the
 * first word is a shell builtin, an executable path (relative ones from `cwd`), or an
 * executable on PATH. Words the shell expands (`$TOOL`) cannot be judged and pass.
 */
export async function commandFound(command: string, cwd: string = process.cwd()): Promise<PreflightResult> {
  try {
    const word = firstWord(command);
    if (word === undefined) return { ok: true, detail: 'the command only sets variables' };
    if (SHELL_OWN.has(word)) return { ok: true, detail: `${word} is part of the shell` };
    if (/[$`]/.test(word)) return { ok: true, detail: `${word} is expanded by the shell when the command runs; not checked` };
    if (word.includes('/')) {
      const path = resolve(cwd, word);
      return (await executable(path)) ? { ok: true, detail: `${path} is executable` } : { ok: false, detail: `${path} is not an executable file` };
    }
    for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
      const path = join(dir, word);
      if (await executable(path)) return { ok: true, detail: `${word} found at ${path}` };
    }
    return { ok: false, detail: `${word} not found on PATH` };
  } catch (err) {
    return { ok: false, detail: `cannot check the command: ${why(err)}` };
  }
}

/** The host of an http(s) (or any scheme's) URL, of `host:port`, `[v6]:port`, or a bare host. */
function hostOf(target: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return new URL(target).hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(target)) return target;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(target);
  if (bracketed?.[1]) return bracketed[1];
  const colon = target.lastIndexOf(':');
  return colon >= 0 ? target.slice(0, colon) : target;
}

/** Whether the host of a URL or `host:port` has an address; a literal IP has one. */
export async function endpointResolves(urlOrHostPort: string): Promise<PreflightResult> {
  let host: string;
  try {
    host = hostOf(urlOrHostPort);
  } catch (err) {
    return { ok: false, detail: `${urlOrHostPort} is not a URL or host:port: ${why(err)}` };
  }
  if (!host) return { ok: false, detail: `${urlOrHostPort} names no host` };
  if (isIP(host)) return { ok: true, detail: `${host} is an IP address` };
  try {
    const { address } = await lookup(host);
    return { ok: true, detail: `${host} resolves to ${address}` };
  } catch (err) {
    return { ok: false, detail: `${host} does not resolve: ${why(err)}` };
  }
}

/** The path itself if it exists, else its closest existing ancestor: where a restore would create it. */
async function nearestExisting(path: string): Promise<string> {
  let current = resolve(path);
  for (;;) {
    try {
      await stat(current);
      return current;
    } catch (err) {
      const parent = dirname(current);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err;
      current = parent;
    }
  }
}

/** Room for the margin: estimates of a restore's size are rough, and a full disk fails it half-way. */
const DISK_MARGIN = 1.1;

/** Whether the file system `path` would be written on (it need not exist yet) has room for `bytesNeeded`, plus 10%. */
export async function diskRoom(path: string, bytesNeeded: number): Promise<PreflightResult> {
  try {
    const where = await nearestExisting(path);
    const fs = await statfs(where);
    // bavail, not bfree: the blocks reserved for root are not ours unless we are root, and a restore should not eat them.
    const free = fs.bavail * fs.bsize;
    const needed = Math.ceil(bytesNeeded * DISK_MARGIN);
    const detail = `${formatBytes(free)} free on ${where}, ${formatBytes(needed)} needed (${formatBytes(bytesNeeded)} + 10%)`;
    return { ok: free >= needed, detail };
  } catch (err) {
    return { ok: false, detail: `cannot check the free space for ${path}: ${why(err)}` };
  }
}

/** Whether a restore target that the restore creates is free: absent, or an empty directory. */
export async function targetEmptyOrAbsent(path: string): Promise<PreflightResult> {
  try {
    const info = await stat(path);
    if (!info.isDirectory()) return { ok: false, detail: `${path} exists and is not a directory` };
    const entries = await readdir(path);
    if (entries.length === 0) return { ok: true, detail: `${path} is an empty directory` };
    return { ok: false, detail: `${path} is not empty: it holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}` };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, detail: `${path} does not exist yet` };
    return { ok: false, detail: `cannot check ${path}: ${why(err)}` };
  }
}
