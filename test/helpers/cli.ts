import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const bkdrBin = join(repoRoot, 'bin/bkdr.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Each line the child writes on stderr, as it comes: a test can act while the run goes on. */
  onStderrLine?: (line: string) => void;
}

/** Runs the built CLI as a child process, as a user or cron would (no TTY). */
export function runBkdr(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return runNode([bkdrBin, ...args], opts);
}

/** A CLI run left in the background: a test polls, decides, signals it; `done` resolves when it exits. */
export interface BackgroundRun {
  child: ChildProcess;
  done: Promise<CliResult>;
  stderr(): string;
  /** Resolves once stderr shows `text`; rejects when the run ends first or after `ms`. */
  waitFor(text: string, ms?: number): Promise<void>;
}

/** Starts `bkdr <args>` without a TTY and returns at once; the caller stops it (and must, on every path). */
export function startBkdr(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): BackgroundRun {
  const child = spawn(process.execPath, [bkdrBin, ...args], { cwd: opts.cwd ?? repoRoot, env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.filter((x) => stderr.includes(x.text))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stdin.end();
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const waitFor = (text: string, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      if (stderr.includes(text)) return resolve();
      const timer = setTimeout(() => reject(new Error(`no "${text}" on stderr within ${ms} ms:\n${stderr}`)), ms);
      waiters.push({ text, resolve: () => (clearTimeout(timer), resolve()) });
      void done.then((r) => reject(new Error(`the run ended (code ${r.code}) before "${text}":\n${r.stderr}`)), reject);
    });
  return { child, done, stderr: () => stderr, waitFor };
}

/** Runs node with `args` as a child process (no TTY) and collects what it printed. */
export function runNode(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return runProgram(process.execPath, args, opts);
}

/** Runs `program` with `args` as a child process (no TTY) and collects what it printed. */
export function runProgram(program: string, args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!opts.onStderrLine) return;
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) opts.onStderrLine(line);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
    // A program that never reads its input may be gone before it is written.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export async function makeTempDir(prefix = 'bkdr-test-', parent = tmpdir()): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(parent, prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A workspace with a JSON config backing up `paths` to a local repository, and its env. */
export async function makeWorkspace(
  dir: string,
  paths: string[],
  extra: Record<string, unknown> = {},
): Promise<{ config: string; repo: string; env: NodeJS.ProcessEnv; run: (args: string[]) => Promise<CliResult> }> {
  const repo = join(dir, 'repo');
  const config = join(dir, 'backup.config.json');
  await writeFile(
    config,
    JSON.stringify({
      sources: { files: { type: 'files', paths } },
      destinations: [{ name: 'local', type: 'local', config: { path: repo } }],
      catalog: { path: join(dir, 'catalog.db') },
      ...extra,
    }),
  );
  const env = { BKDR_PASSWORD: 'test-password', BKDR_CATALOG: join(dir, 'catalog.db') };
  return { config, repo, env, run: (args) => runBkdr(['-c', config, ...args], { cwd: dir, env }) };
}
