import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackupManager } from '../../src/backup/backup-manager.js';
import { openCatalog } from '../../src/catalog/catalog.js';
import { validateConfig } from '../../src/config/validate.js';
import { DisasterRecoveryOrchestrator } from '../../src/dr/disaster-recovery-orchestrator.js';
import { type BackgroundRun, type CliResult, makeTempDir, makeWorkspace, startBkdr } from '../helpers/cli.js';
import { killChildren } from '../helpers/dr-step.js';
import { briefScenarios } from '../helpers/brief-scenarios.js';

/**
 * DR executions through the real CLI in child processes (CLI.md "Disaster recovery and
 * continuity"): dry run with preflight, a crash and `dr resume`, a failure rolled back
 * newest first, approvals from another process, the refusal without a terminal; and the
 * library facade in-process.
 */

interface StepJson {
  id: string;
  planId: string;
  type: string;
  status: string;
  attempts: number;
  error: string | null;
  preflight?: { check: string; ok: boolean; level: string; detail: string }[];
}
interface ExecutionJson {
  id: string;
  scenarioId: string;
  status: string;
  dryRun: boolean;
  progress: number;
  steps: StepJson[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function scenario(id: string, planId: string): Record<string, unknown> {
  return { id, name: `scenario ${id}`, severity: 'high', rto: 30, rpo: 60, affectedSystems: ['files'], triggers: [], recoveryPlans: [planId] };
}

function lines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

describe('dr executions through the CLI', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let hook: Server;
  const hookRequests: { url: string; body: string }[] = [];
  const children = new Set<ChildProcess>();
  let p: (name: string) => string;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-dr-e2e-');
    p = (name) => join(tmp.path, name);
    const src = p('src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'a.txt'), 'alpha\n');
    await writeFile(join(src, 'sub', 'b.txt'), 'beta\n'.repeat(100));

    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        hookRequests.push({ url: `${req.method} ${req.url}`, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as AddressInfo).port;

    const append = (text: string, file: string) => `echo ${text} >> '${p(file)}'`;
    ws = await makeWorkspace(tmp.path, [src], {
      scenarios: [
        scenario('dry', 'dry-plan'),
        scenario('dry-old', 'old-plan'),
        scenario('crash', 'crash-plan'),
        scenario('fail', 'fail-plan'),
        scenario('approval', 'approval-plan'),
        scenario('refuse', 'refuse-plan'),
        scenario('rollback-kill', 'rollback-kill-plan'),
        scenario('rollback-int', 'rollback-int-plan'),
        scenario('race', 'race-plan'),
      ],
      recoveryPlans: {
        'dry-plan': {
          steps: [
            { id: 'restore', type: 'restore', source: 'files', target: 'restored' },
            { id: 'touch', type: 'command', command: `touch '${p('touched')}'`, dependsOn: ['restore'] },
            { id: 'notify', type: 'notify', webhook: `http://127.0.0.1:${port}/hook`, message: 'restored', dependsOn: ['touch'] },
          ],
        },
        'old-plan': { steps: [{ id: 'restore', type: 'restore', source: 'files', at: '2001-01-01T00:00:00Z', target: 'restored-old' }] },
        'crash-plan': {
          steps: [
            { id: 'a', type: 'command', command: append('a', 'crash.log') },
            { id: 'b', type: 'wait', duration: '4s', dependsOn: ['a'] },
            { id: 'c', type: 'command', command: append('c', 'crash.log'), dependsOn: ['b'] },
            { id: 'd', type: 'notify', webhook: `http://127.0.0.1:${port}/crash`, message: 'recovered', dependsOn: ['c'] },
          ],
        },
        'fail-plan': {
          steps: [
            { id: 's1', type: 'command', command: append('s1', 'order'), rollback: { type: 'command', command: append('undo-s1', 'order') } },
            { id: 's2', type: 'command', command: append('s2', 'order'), dependsOn: ['s1'], rollback: { type: 'command', command: append('undo-s2', 'order') } },
            { id: 'check', type: 'command', command: 'exit 1', dependsOn: ['s2'], retries: 1, onFailure: 'rollback' },
          ],
        },
        'approval-plan': {
          steps: [
            { id: 'ok', type: 'approval', approvers: ['lead'], message: 'go on?' },
            { id: 'after', type: 'command', command: append('after', 'approval.log'), dependsOn: ['ok'] },
          ],
        },
        // s2's rollback takes 2 s: time to stop the process in the middle of the rollback.
        ...Object.fromEntries(
          ['kill', 'int'].map((k) => [
            `rollback-${k}-plan`,
            {
              steps: [
                { id: 's1', type: 'command', command: append('s1', `order-${k}`), rollback: { type: 'command', command: append('undo-s1', `order-${k}`) } },
                { id: 's2', type: 'command', command: append('s2', `order-${k}`), dependsOn: ['s1'], rollback: { type: 'command', command: `${append('undo-s2', `order-${k}`)}; sleep 2` } },
                { id: 'check', type: 'command', command: 'exit 1', dependsOn: ['s2'], onFailure: 'rollback' },
              ],
            },
          ]),
        ),
        'race-plan': {
          steps: [
            { id: 'a', type: 'command', command: append('a', 'race.log') },
            { id: 'hold', type: 'wait', duration: '1s', dependsOn: ['a'] },
          ],
        },
        'refuse-plan': { steps: [{ id: 'touch', type: 'command', command: `touch '${p('refused')}'` }] },
      },
    });
    const backup = await ws.run(['backup', 'run']);
    expect(backup.code, backup.stderr).toBe(0);
  });

  afterEach(async () => {
    await killChildren(children);
  });

  afterAll(async () => {
    await new Promise((r) => hook?.close(r));
    await tmp?.cleanup();
  });

  /** `bkdr -c config <args>` in the background: the test can poll, decide and kill. */
  function start(args: string[]): BackgroundRun {
    const run = startBkdr(['-c', ws.config, ...args], { cwd: tmp.path, env: ws.env });
    children.add(run.child);
    return run;
  }

  async function json<T>(args: string[]): Promise<T> {
    const r = await ws.run(['--json', ...args]);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as T;
  }

  const status = (id: string) => json<ExecutionJson>(['dr', 'status', id]);

  /** The newest execution of `scenarioId`, once one is recorded. */
  async function executionOf(scenarioId: string, ms = 15_000): Promise<ExecutionJson> {
    const until = Date.now() + ms;
    for (;;) {
      const found = (await json<ExecutionJson[]>(['dr', 'history', '--scenario', scenarioId]))[0];
      if (found) return found;
      if (Date.now() > until) throw new Error(`no execution of ${scenarioId} within ${ms} ms`);
      await sleep(100);
    }
  }

  async function until(id: string, what: string, holds: (e: ExecutionJson) => boolean, ms = 15_000): Promise<ExecutionJson> {
    const deadline = Date.now() + ms;
    for (;;) {
      const e = await status(id);
      if (holds(e)) return e;
      if (Date.now() > deadline) throw new Error(`execution ${id} not ${what} within ${ms} ms: ${JSON.stringify(e)}`);
      await sleep(100);
    }
  }

  it('a dry run preflights each step in order and runs nothing; a point before any backup fails its preflight (exit 2)', async () => {
    const r = await ws.run(['--json', 'dr', 'trigger', 'dry', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as ExecutionJson;
    expect(result.status).toBe('planned');
    expect(result.dryRun).toBe(true);
    expect(result.steps.map((s) => s.id)).toEqual(['dry-plan/restore', 'dry-plan/touch', 'dry-plan/notify']);
    for (const s of result.steps) {
      expect(s.preflight?.length, s.id).toBeGreaterThan(0);
      expect(
        s.preflight!.filter((c) => !c.ok && c.level === 'error'),
        s.id,
      ).toEqual([]);
    }
    expect(result.steps[0]!.preflight!.map((c) => c.check)).toEqual(expect.arrayContaining(['backup exists', 'target empty']));
    expect(existsSync(p('restored'))).toBe(false);
    expect(existsSync(p('touched'))).toBe(false);
    expect(hookRequests.filter((r) => r.url.endsWith('/hook'))).toEqual([]);

    const old = await ws.run(['--json', 'dr', 'trigger', 'dry-old', '--dry-run']);
    expect(old.code, old.stderr).toBe(2);
    const oldResult = JSON.parse(old.stdout) as ExecutionJson;
    expect(oldResult.status).toBe('planned');
    const failing = oldResult.steps[0]!.preflight!.filter((c) => !c.ok && c.level === 'error');
    expect(failing.map((c) => c.check)).toEqual(['backup at that time']);
    expect(failing[0]!.detail).toMatch(/2001-01-01T00:00:00/);
    expect(existsSync(p('restored-old'))).toBe(false);
  });

  it('an execution whose process is killed is interrupted; resume runs what is left, finished steps not again', async () => {
    const trigger = start(['dr', 'trigger', 'crash', '--yes']);
    const { id } = await executionOf('crash');
    await until(id, 'running step b', (e) => e.steps.find((s) => s.id === 'crash-plan/b')?.status === 'running');
    trigger.child.kill('SIGKILL');
    const killed = await trigger.done;
    expect(killed.signal).toBe('SIGKILL');

    const interrupted = await status(id);
    expect(interrupted.status).toBe('interrupted');
    // Nothing runs b any more: it is pending again (as after Ctrl-C), not `running` with a progress that keeps growing.
    expect(interrupted.steps.map((s) => s.status)).toEqual(['succeeded', 'pending', 'pending', 'pending']);
    await sleep(600);
    expect((await status(id)).progress).toBe(interrupted.progress);

    const resumed = await ws.run(['dr', 'resume', id]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = await status(id);
    expect(after.status).toBe('succeeded');
    expect(after.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(after.progress).toBe(100);
    expect(lines(p('crash.log'))).toEqual(['a', 'c']);
    // The resumed run announces the scenario by its name, as the first run would have.
    const notified = hookRequests.filter((r) => r.url === 'POST /crash').map((r) => JSON.parse(r.body) as { execution: { id: string; scenarioName?: string } });
    expect(notified).toHaveLength(1);
    expect(notified[0]!.execution).toMatchObject({ id, scenarioName: 'scenario crash' });
  });

  it('a step that fails for good with onFailure rollback undoes the finished steps newest first', async () => {
    const r = await ws.run(['dr', 'trigger', 'fail', '--yes']);
    expect(r.code, r.stderr).toBe(1);
    const { id } = await executionOf('fail');
    const e = await status(id);
    expect(e.status).toBe('rolled-back');
    expect(lines(p('order'))).toEqual(['s1', 's2', 'undo-s2', 'undo-s1']);
    const check = e.steps.find((s) => s.id === 'fail-plan/check')!;
    expect(check.status).toBe('failed');
    expect(check.attempts).toBe(2);
    expect(check.error).toMatch(/exited with code 1/);
    expect(e.steps.filter((s) => s.id !== 'fail-plan/check').map((s) => s.status)).toEqual(['rolled-back', 'rolled-back']);
  });

  it('an approval step waits for dr approve or dr reject from another process, and both are audited', async () => {
    const first = start(['dr', 'trigger', 'approval', '--yes']);
    const { id } = await executionOf('approval');
    await until(id, 'waiting for approval', (e) => e.status === 'waiting-approval');
    expect(lines(p('approval.log'))).toEqual([]);
    const approve = await ws.run(['dr', 'approve', id, '--by', 'lead']);
    expect(approve.code, approve.stderr).toBe(0);
    const approved = await first.done;
    expect(approved.code, approved.stderr).toBe(0);
    expect((await status(id)).status).toBe('succeeded');
    expect(lines(p('approval.log'))).toEqual(['after']);

    const second = start(['dr', 'trigger', 'approval', '--yes']);
    const next = await (async () => {
      for (;;) {
        const e = await executionOf('approval');
        if (e.id !== id) return e;
        await sleep(100);
      }
    })();
    await until(next.id, 'waiting for approval', (e) => e.status === 'waiting-approval');
    const reject = await ws.run(['dr', 'reject', next.id, '--by', 'lead', '--reason', 'no']);
    expect(reject.code, reject.stderr).toBe(0);
    const rejected = await second.done;
    expect(rejected.code, rejected.stderr).toBe(1);
    const failed = await status(next.id);
    expect(failed.status).toBe('failed');
    expect(failed.steps[0]!.error).toMatch(/rejected by lead: no/);
    expect(lines(p('approval.log'))).toEqual(['after']);

    const audit = await json<{ action: string; target: string; payload: unknown }[]>(['audit', 'list']);
    expect(audit.filter((a) => a.action === 'dr.approve').map((a) => a.target)).toEqual([id]);
    expect(audit.filter((a) => a.action === 'dr.reject').map((a) => a.target)).toEqual([next.id]);
  });

  /** Starts `scenarioId`, and once its order file shows the rollback of s2 under way, signals the trigger process. */
  async function stopDuringRollback(scenarioId: string, order: string, signal: NodeJS.Signals): Promise<{ id: string; stopped: CliResult }> {
    const trigger = start(['dr', 'trigger', scenarioId, '--yes']);
    const deadline = Date.now() + 15_000;
    while (!lines(p(order)).includes('undo-s2')) {
      if (Date.now() > deadline) throw new Error(`${order}: no rollback within 15 s`);
      await sleep(20);
    }
    trigger.child.kill(signal);
    const stopped = await trigger.done;
    return { id: (await executionOf(scenarioId)).id, stopped };
  }

  // A resumed execution whose step failed for good (onFailure: rollback) finishes the rollback.
  it('a process killed during a rollback: resume finishes the rollback', async () => {
    const { id, stopped } = await stopDuringRollback('rollback-kill', 'order-kill', 'SIGKILL');
    expect(stopped.signal).toBe('SIGKILL');
    expect((await status(id)).status).toBe('interrupted');
    const resumed = await ws.run(['dr', 'resume', id]);
    expect(resumed.code, resumed.stderr).toBe(1);
    const e = await status(id);
    expect(e.status).toBe('rolled-back');
    expect(e.steps.map((s) => s.status)).toEqual(['rolled-back', 'rolled-back', 'failed']);
    expect(lines(p('order-kill')).at(-1)).toBe('undo-s1');
  });

  // Ctrl-C during a rollback: interrupted (exit 130), and `dr resume` undoes the rest.
  it('Ctrl-C during a rollback leaves the execution interrupted, not rolled-back', async () => {
    const { id, stopped } = await stopDuringRollback('rollback-int', 'order-int', 'SIGINT');
    expect(stopped.code, stopped.stderr).toBe(130);
    expect((await status(id)).status).toBe('interrupted');
    const resumed = await ws.run(['dr', 'resume', id]);
    expect(resumed.code, resumed.stderr).toBe(1);
    expect((await status(id)).status).toBe('rolled-back');
    expect(lines(p('order-int')).at(-1)).toBe('undo-s1');
  });

  // The catalog refuses a second active execution of a scenario inside the transaction that creates it.
  it('two triggers of one scenario started together: one runs, the other is refused (exit 4)', async () => {
    for (let round = 0; round < 5; round++) {
      await rm(p('race.log'), { force: true });
      const results = await Promise.all([start(['dr', 'trigger', 'race', '--yes']).done, start(['dr', 'trigger', 'race', '--yes']).done]);
      expect(results.map((r) => r.code).sort()).toEqual([0, 4]);
      expect(lines(p('race.log'))).toEqual(['a']);
    }
  });

  it('refuses to trigger without --yes and without a terminal, and names an unknown scenario in one line (exit 2)', async () => {
    const r = await ws.run(['dr', 'trigger', 'refuse']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(existsSync(p('refused'))).toBe(false);
    expect(await json<ExecutionJson[]>(['dr', 'history', '--scenario', 'refuse'])).toEqual([]);

    const unknown = await ws.run(['dr', 'trigger', 'no-such-scenario', '--yes']);
    expect(unknown.code).toBe(2);
    const text = unknown.stderr.trim();
    expect(text.split('\n')).toHaveLength(1);
    expect(text).toMatch(/no-such-scenario/);
    expect(unknown.stdout).toBe('');
  });

  it('the library facade takes the brief scenarios and dry-runs one (in-process)', async () => {
    const config = validateConfig(JSON.parse(await readFile(ws.config, 'utf8')) as unknown, ws.config);
    const catalog = openCatalog(p('library-catalog.db'));
    try {
      const backup = new BackupManager({ config, configPath: ws.config, catalog, password: () => Promise.resolve('test-password') });
      const orchestrator = new DisasterRecoveryOrchestrator({ config, configPath: ws.config, catalog, backup });
      for (const s of briefScenarios) expect(orchestrator.registerScenario(s).id).toBe(s.id);
      const result = await orchestrator.triggerRecovery('database-corruption', { triggeredBy: 'automatic', dryRun: true });
      expect(typeof result.id).toBe('string');
      const view = orchestrator.getRecoveryStatus(result.id);
      expect(view.status).toBe('planned');
      expect(view.progress).toBe(0);
      expect(view.triggeredBy).toBe('automatic');
      expect(orchestrator.listScenarios().map((s) => s.id)).toEqual(expect.arrayContaining(briefScenarios.map((s) => s.id)));
    } finally {
      catalog.close();
    }
  });
});
