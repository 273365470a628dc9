import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { niceFromStat } from '../../src/runtime/process-priority.js';
import { makeTempDir, makeWorkspace, startBkdr } from '../helpers/cli.js';

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;

/** Niceness and `ionice -p` line of every thread of `pid` and of the shell it runs, read from outside. */
function observe(pid: number): { threads: string[]; children: string[] } {
  const tids = readdirSync(`/proc/${pid}/task`);
  const line = (ids: string[]) =>
    ids.length === 0
      ? []
      : execFileSync('ionice', ['-p', ...ids], { encoding: 'utf8' })
          .trim()
          .split('\n');
  const state = (path: string, io: string | undefined) => `${niceFromStat(readFileSync(path, 'utf8'))}/${io}`;
  const tidIo = line(tids);
  // The source's shell only: the run's own short-lived `ionice` child is not what is looked for.
  const kids = tids.flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)).filter((k) => readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'sh');
  const kidIo = line(kids);
  return { threads: tids.map((t, i) => state(`/proc/${pid}/task/${t}/stat`, tidIo[i])), children: kids.map((k, i) => state(`/proc/${k}/stat`, kidIo[i])) };
}

describe.runIf(process.platform === 'linux' && process.getuid?.() === 0)('bkdr backup run --priority', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Workspace;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-priority-');
    // A command source that takes 3 s: long enough to look at the process from outside while it runs.
    ws = await makeWorkspace(tmp.path, [tmp.path], { sources: { slow: { type: 'command', command: 'sleep 3; echo data' } } });
  });
  afterAll(() => tmp.cleanup());

  /** Starts the run, waits until its main thread shows `nice`, and looks at it then. */
  async function runAndObserve(priority: string, nice: number) {
    const run = startBkdr(['-c', ws.config, '--json', 'backup', 'run', '--source', 'slow', '--priority', priority], { cwd: tmp.path, env: ws.env });
    const pid = run.child.pid ?? 0;
    let seen: ReturnType<typeof observe> | undefined;
    try {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && run.child.exitCode === null) {
        try {
          const now = observe(pid);
          // Wait for the command source's shell too, so the children's inheritance is seen.
          if (now.threads[0]?.startsWith(`${nice}/`) && now.children.length > 0) {
            seen = now;
            break;
          }
        } catch {
          // A thread or child ended while being read: look again.
        }
        await sleep(20);
      }
    } finally {
      if (!seen) run.child.kill('SIGKILL');
    }
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    const { runId } = JSON.parse(result.stdout) as { runId: string };
    const logs = await ws.run(['--json', 'backup', 'logs', runId]);
    expect(logs.code, logs.stderr).toBe(0);
    const started = (JSON.parse(logs.stdout) as { logs: { message: string; fields?: Record<string, unknown> }[] }).logs.find((l) => l.message.startsWith('backup of slow'));
    return { seen, fields: started?.fields, stderr: result.stderr };
  }

  it('low: every thread and the source command run at nice 10 in the idle I/O class, and the run log says so', async () => {
    const { seen, fields } = await runAndObserve('low', 10);
    expect(seen, 'never saw the run at nice 10').toBeDefined();
    expect(new Set(seen?.threads)).toEqual(new Set(['10/idle']));
    expect(new Set(seen?.children)).toEqual(new Set(['10/idle']));
    expect(fields).toMatchObject({ priority: 'low', priorityApplied: expect.stringMatching(/^low: nice 10, I\/O idle on \d+ threads$/) });
  });

  it('high as root: nice -5 and best-effort level 0 on every thread', async () => {
    const { seen, fields, stderr } = await runAndObserve('high', -5);
    expect(seen, 'never saw the run at nice -5').toBeDefined();
    expect(new Set(seen?.threads)).toEqual(new Set(['-5/best-effort: prio 0']));
    expect(new Set(seen?.children)).toEqual(new Set(['-5/best-effort: prio 0']));
    expect(fields).toMatchObject({ priority: 'high', priorityApplied: expect.stringMatching(/^high: nice -5, I\/O best-effort\/0 on \d+ threads$/) });
    // Everything granted: nothing to warn about.
    expect(stderr).not.toMatch(/refused/);
  });

  it('normal changes nothing and records no applied priority', async () => {
    // The child starts at what this test process runs at.
    const own = observe(process.pid).threads[0] ?? '';
    const { seen, fields } = await runAndObserve('normal', Number(own.split('/')[0]));
    expect(new Set(seen?.threads)).toEqual(new Set([own]));
    expect(fields).toMatchObject({ priority: 'normal' });
    expect(fields).not.toHaveProperty('priorityApplied');
  });
});
