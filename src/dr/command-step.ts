import { spawn } from 'node:child_process';
import { OperationError } from '../core/errors.js';
import { abortReason, type StepContext, type StepExecutor, type StepOfType, type StepOutcome } from './step-executor.js';

export type CommandStep = StepOfType<'command'>;

/** The most of each stream kept: stdout for the outcome, stderr for the failure's last line. */
const TAIL_BYTES = 8 * 1024;
/** After SIGTERM, how long the process group has before SIGKILL. */
const KILL_GRACE_MS = 2_000;
/** After the shell exits, how long its pipes may stay open (a background child holding them) before they are dropped. */
const PIPE_GRACE_MS = 200;

function tail(chunks: Buffer): string {
  return chunks.subarray(Math.max(0, chunks.length - TAIL_BYTES)).toString('utf8');
}

function lastLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .at(-1);
}

/** Signals the whole process group the shell leads; it may be gone already. */
function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/**
 * `/bin/sh -c command` in its own process group, with the step's `cwd` and `env` over
 * bkdr's environment. Succeeds on exit code 0; otherwise fails with the code (or the
 * signal) and the last line of stderr. When the signal aborts, the whole group gets
 * SIGTERM, then SIGKILL after 2 s, so no child of the command is left behind. A command
 * that exits on its own may leave background processes running on purpose (`nohup
 * server &`): those are not killed.
 */
export const commandStep: StepExecutor<CommandStep> = {
  run(step: CommandStep, ctx: StepContext, signal: AbortSignal): Promise<StepOutcome> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<StepOutcome>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', step.command], {
        cwd: step.cwd,
        env: { ...process.env, ...step.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let stdout = Buffer.alloc(0);
      let stderr = Buffer.alloc(0);
      const keep = (buf: Buffer, chunk: Buffer) => {
        const joined = Buffer.concat([buf, chunk]);
        return joined.length > 2 * TAIL_BYTES ? joined.subarray(joined.length - TAIL_BYTES) : joined;
      };
      child.stdout.on('data', (c: Buffer) => (stdout = keep(stdout, c)));
      child.stderr.on('data', (c: Buffer) => (stderr = keep(stderr, c)));

      let killTimer: NodeJS.Timeout | undefined;
      let pipeTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        if (child.pid === undefined) return;
        ctx.log('debug', `stopping command of step ${step.id} (process group ${child.pid})`);
        killGroup(child.pid, 'SIGTERM');
        killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), KILL_GRACE_MS);
      };
      signal.addEventListener('abort', onAbort, { once: true });

      let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
      let settled = false;
      const settle = () => {
        if (settled || !exit) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        clearTimeout(pipeTimer);
        if (signal.aborted) {
          // Keep SIGKILL armed only while the group may still hold something; the leader is gone.
          if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
          clearTimeout(killTimer);
          reject(abortReason(signal));
          return;
        }
        const { code, sig } = exit;
        if (code === 0) {
          const out = tail(stdout);
          const line = lastLine(out);
          resolve({ ...(line ? { detail: line } : {}), output: { exitCode: 0, stdout: out } });
          return;
        }
        const why = sig ? `was killed by ${sig}` : `exited with code ${code}`;
        const line = lastLine(tail(stderr));
        reject(new OperationError(`command ${why}${line ? `: ${line}` : ''}`));
      };

      child.on('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        clearTimeout(killTimer);
        if (settled) return;
        settled = true;
        reject(new OperationError(`cannot run /bin/sh: ${err.message}`, { cause: err }));
      });
      child.on('exit', (code, sig) => {
        exit = { code, sig };
        // A background child may hold the pipes open; do not wait for it forever.
        pipeTimer = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          settle();
        }, PIPE_GRACE_MS);
      });
      child.on('close', settle);
    });
  },
};
