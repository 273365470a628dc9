import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { DrStep } from '../../src/config/dr-schema.js';
import type { StepContext, StepLogLevel } from '../../src/dr/step-executor.js';

/** A step as the config schema outputs it: `onFailure` defaulted, durations in ms. */
export function step<T extends DrStep['type']>(fields: { type: T; id?: string } & Omit<Extract<DrStep, { type: T }>, 'type' | 'id' | 'onFailure'>): Extract<DrStep, { type: T }> {
  return { id: 's', onFailure: 'abort', ...fields } as unknown as Extract<DrStep, { type: T }>;
}

/** A context whose log is kept for assertions. */
export function recordingContext(): StepContext & { lines: { level: StepLogLevel; message: string }[] } {
  const lines: { level: StepLogLevel; message: string }[] = [];
  return { lines, dryRun: false, log: (level, message) => lines.push({ level, message }) };
}

/** Whether a process is still running: gone, or a zombie waiting for its reaper, counts as not. */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A test's afterEach: kills the children it started that still run, waits until each is gone, and forgets them. */
export async function killChildren(children: Set<ChildProcess>): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (child.pid !== undefined) await gone(child.pid, 2_000);
  }
  children.clear();
}

/** Polls until `pid` is no longer running, or `ms` have passed; true when it is gone. */
export async function gone(pid: number, ms = 1_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (running(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
