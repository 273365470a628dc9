import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/core/errors.js';
import { commandStep } from '../../src/dr/command-step.js';
import { gone, recordingContext, step } from '../helpers/dr-step.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bkdr-command-step-'));
  dirs.push(d);
  return d;
}

const run = (fields: Omit<Parameters<typeof step<'command'>>[0], 'type'>, signal = new AbortController().signal) => commandStep.run(step({ type: 'command', ...fields }), recordingContext(), signal);

describe('commandStep', () => {
  it('succeeds on exit 0 with its last stdout line as the detail', async () => {
    const outcome = await run({ command: 'echo first; echo done' });
    expect(outcome.detail).toBe('done');
    expect(outcome.output).toEqual({ exitCode: 0, stdout: 'first\ndone\n' });
  });

  it('runs with the step’s env over bkdr’s, in its cwd', async () => {
    const dir = tempDir();
    const outcome = await run({ command: 'echo "$GREETING $HOME_SET $(pwd)"', env: { GREETING: 'hello', HOME_SET: process.env['HOME'] ? 'yes' : 'no' }, cwd: dir });
    expect(outcome.detail).toBe(`hello ${process.env['HOME'] ? 'yes' : 'no'} ${dir}`);
  });

  it('fails with the exit code and the last stderr line', async () => {
    const err = await run({ command: 'echo noise >&2; echo "pg_ctl: could not start server" >&2; echo; exit 3' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe('command exited with code 3: pg_ctl: could not start server');
  });

  it('fails with the exit code alone when stderr is empty', async () => {
    await expect(run({ command: 'exit 1' })).rejects.toThrow(/^command exited with code 1$/);
  });

  it('names the signal that killed it', async () => {
    await expect(run({ command: 'kill -9 $$' })).rejects.toThrow('command was killed by SIGKILL');
  });

  it('on abort kills the whole process group, children included, and rejects with the abort reason', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'pids');
    const controller = new AbortController();
    const running = run({ command: `echo $$ > ${pidFile}; (sleep 5; echo late) & echo $! >> ${pidFile}; sleep 5 & echo $! >> ${pidFile}; wait` }, controller.signal);
    await new Promise((r) => setTimeout(r, 200));
    const begin = Date.now();
    controller.abort(new Error('stop now'));
    await expect(running).rejects.toThrow('stop now');
    expect(Date.now() - begin).toBeLessThan(1_000);
    const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(await gone(pid)).toBe(true);
  });

  it('escalates to SIGKILL for a group that ignores SIGTERM', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'pid');
    const controller = new AbortController();
    const running = run({ command: `trap '' TERM; echo $$ > ${pidFile}; while :; do sleep 0.05; done` }, controller.signal);
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(Error);
    expect(await gone(Number(readFileSync(pidFile, 'utf8').trim()), 500)).toBe(true);
  });

  it('does not start when the signal has already aborted', async () => {
    const dir = tempDir();
    await expect(run({ command: `touch ${join(dir, 'ran')}` }, AbortSignal.abort())).rejects.toBeInstanceOf(Error);
    expect(() => readFileSync(join(dir, 'ran'))).toThrow();
  });

  it('returns when the shell exits even if a background child keeps its pipes open', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'pid');
    const begin = Date.now();
    const outcome = await run({ command: `sleep 3 & echo $! > ${pidFile}; echo started` });
    expect(outcome.detail).toBe('started');
    expect(Date.now() - begin).toBeLessThan(1_000);
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
  });
});
