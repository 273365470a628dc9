import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, makeTempDir, makeWorkspace, startBkdr } from '../helpers/cli.js';
import { killChildren } from '../helpers/dr-step.js';

/**
 * Progress and ETA of a running DR execution as another process sees them (CLI.md
 * "Disaster recovery and continuity"): while a restore of 1 GiB runs in a
 * plan, `dr status --json` polled from other processes shows `progress` rising and an
 * `estimatedCompletion`; in a second run of the same plan (the restore step's weight now
 * measured) the ETA read at 50 % is within ±50 % of the actual end.
 */

interface ExecutionJson {
  id: string;
  status: string;
  progress: number;
  estimatedCompletion: string | null;
  startedAt: string;
  endedAt: string | null;
  steps: { id: string; status: string; startedAt: string | null; endedAt: string | null }[];
}

interface Sample {
  /** When the poll process was started and when its answer came back (ms since epoch). */
  asked: number;
  answered: number;
  status: string;
  restore: string;
  progress: number;
  eta: string | null;
}

const MIB = 1024 * 1024;
// 80 × 13 MiB = 1040 MiB of random bytes: nothing dedupes or compresses away, and even
// from the page cache the restore lasts several polls.
const FILES = 80;
const FILE_BYTES = 13 * MIB;
const CHUNK_BYTES = FILE_BYTES; // one write per file
const ENDED = new Set(['succeeded', 'failed', 'rolled-back', 'interrupted']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dr execution progress and ETA from another process', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let target: string;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-dr-progress-');
    const src = join(tmp.path, 'src');
    await mkdir(src, { recursive: true });
    for (let i = 0; i < FILES; i++) {
      const file = await open(join(src, `blob-${String(i).padStart(2, '0')}.bin`), 'w');
      try {
        for (let written = 0; written < FILE_BYTES; written += CHUNK_BYTES) await file.write(randomBytes(Math.min(CHUNK_BYTES, FILE_BYTES - written)));
      } finally {
        await file.close();
      }
    }
    target = join(tmp.path, 'restored');
    ws = await makeWorkspace(tmp.path, [src], {
      scenarios: [{ id: 'big-restore', name: 'big restore', severity: 'high', rto: 30, rpo: 60, affectedSystems: ['files'], triggers: [], recoveryPlans: ['big-restore-plan'] }],
      recoveryPlans: {
        'big-restore-plan': {
          steps: [
            { id: 'restore', type: 'restore', source: 'files', at: 'latest', target, force: true },
            { id: 'after', type: 'command', command: 'sleep 2', dependsOn: ['restore'] },
          ],
        },
      },
    });
    const backup = await ws.run(['backup', 'run']);
    expect(backup.code, backup.stderr).toBe(0);
  }, 180_000);

  afterEach(async () => {
    await killChildren(children);
  });

  afterAll(async () => {
    await tmp?.cleanup();
  });

  /** `bkdr -c config <args>` in the background. */
  function start(args: string[]): Promise<CliResult> {
    const run = startBkdr(['-c', ws.config, ...args], { cwd: tmp.path, env: ws.env });
    children.add(run.child);
    return run.done;
  }

  async function json<T>(args: string[]): Promise<T> {
    const r = await ws.run(['--json', ...args]);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as T;
  }

  /** Triggers the scenario and polls `dr status --json` (each poll its own process) every ~300 ms until the execution ends. */
  async function triggerAndPoll(previous: readonly string[]): Promise<{ final: ExecutionJson; samples: Sample[] }> {
    const trigger = start(['dr', 'trigger', 'big-restore', '--yes']);
    let id: string | undefined;
    const deadline = Date.now() + 30_000;
    while (!id) {
      id = (await json<ExecutionJson[]>(['dr', 'history', '--scenario', 'big-restore'])).find((e) => !previous.includes(e.id))?.id;
      if (!id && Date.now() > deadline) throw new Error('no new execution of big-restore within 30 s');
      if (!id) await sleep(100);
    }
    const samples: Sample[] = [];
    let final: ExecutionJson;
    for (;;) {
      const asked = Date.now();
      const e = await json<ExecutionJson>(['dr', 'status', id]);
      const answered = Date.now();
      if (ENDED.has(e.status)) {
        final = e;
        break;
      }
      const restore = e.steps.find((s) => s.id.endsWith('restore'))?.status ?? '?';
      samples.push({ asked, answered, status: e.status, restore, progress: e.progress, eta: e.estimatedCompletion });
      await sleep(300);
    }
    const r = await trigger;
    expect(r.code, r.stderr).toBe(0);
    expect(final.status).toBe('succeeded');
    return { final, samples };
  }

  function report(label: string, final: ExecutionJson, samples: readonly Sample[]): void {
    const t0 = Date.parse(final.startedAt);
    const rows = samples.map((s) => {
      const eta = s.eta ? `${((Date.parse(s.eta) - t0) / 1000).toFixed(2)}s` : 'null';
      return `  +${((s.asked - t0) / 1000).toFixed(2)}s..+${((s.answered - t0) / 1000).toFixed(2)}s ${s.status}/${s.restore} progress=${s.progress} eta=+${eta}`;
    });
    const steps = final.steps.map((s) => `${s.id} ${s.startedAt && s.endedAt ? ((Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000).toFixed(2) : '?'}s`);
    console.log(`${label}: ended at +${((Date.parse(final.endedAt!) - t0) / 1000).toFixed(2)}s (${steps.join(', ')})\n${rows.join('\n')}`);
  }

  it('while a restore of 1040 MiB runs, progress rises with an ETA; in a second run the ETA at 50 % is within ±50 % of the end', async () => {
    // Run 1: the restore step has never run; its weight comes from the backup's size.
    const one = await triggerAndPoll([]);
    report('run 1', one.final, one.samples);
    const running1 = one.samples.filter((s) => s.status === 'running');
    expect(running1.length).toBeGreaterThanOrEqual(3);
    for (const [i, s] of running1.entries()) {
      expect(s.eta, `sample ${i} has no ETA`).not.toBeNull();
      if (i > 0) expect(s.progress, `progress fell at sample ${i}: ${JSON.stringify(running1)}`).toBeGreaterThanOrEqual(running1[i - 1]!.progress);
    }
    const between = new Set(running1.map((s) => s.progress).filter((p) => p > 0 && p < 100));
    expect(between.size, JSON.stringify(running1)).toBeGreaterThanOrEqual(3);

    // Run 2: the same plan into an emptied target; the step's weight is now run 1's duration.
    await rm(target, { recursive: true, force: true });
    const two = await triggerAndPoll([one.final.id]);
    report('run 2', two.final, two.samples);
    const running2 = two.samples.filter((s) => s.status === 'running');
    for (const [i, s] of running2.entries()) {
      expect(s.eta).not.toBeNull();
      if (i > 0) expect(s.progress).toBeGreaterThanOrEqual(running2[i - 1]!.progress);
    }
    const half = running2.find((s) => s.progress >= 50);
    expect(half, `no sample at 50 % or more: ${JSON.stringify(running2)}`).toBeDefined();
    const startedAt = Date.parse(two.final.startedAt);
    const actualEnd = Date.parse(two.final.endedAt!);
    const eta = Date.parse(half!.eta!);
    console.log(`run 2: at ${half!.progress} % the ETA was +${((eta - startedAt) / 1000).toFixed(2)}s, the end came at +${((actualEnd - startedAt) / 1000).toFixed(2)}s`);
    expect(Math.abs(eta - actualEnd)).toBeLessThanOrEqual(0.5 * (actualEnd - startedAt));
  }, 240_000);
});
