import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackupManager } from '../../src/backup/backup-manager.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { validateConfig } from '../../src/config/validate.js';
import { DisasterRecoveryOrchestrator } from '../../src/dr/disaster-recovery-orchestrator.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n') : []);

/**
 * What a review of the orchestrator found an operator could be hurt by, each now held by a
 * test: DR tests that ran production rollbacks or restored into the production database,
 * executions left `running` after an error, a rollback lost to an earlier abort, an
 * approval asked for a recovery that had already failed. In-process, real command steps.
 */
describe('orchestrator: safety of DR tests and of executions that fail', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function setup(): Promise<{ orch: DisasterRecoveryOrchestrator; catalog: Catalog; p: (n: string) => string }> {
    const tmp = await makeTempDir('bkdr-dr-safety-');
    const ws = await makeWorkspace(tmp.path, [tmp.path]);
    const config = validateConfig(JSON.parse(await readFile(ws.config, 'utf8')) as unknown, ws.config);
    const catalog = openCatalog(join(tmp.path, 'catalog.db'));
    const backup = new BackupManager({ config, configPath: ws.config, catalog, password: () => Promise.resolve('test-password') });
    cleanups.push(async () => {
      catalog.close();
      await tmp.cleanup();
    });
    return { orch: new DisasterRecoveryOrchestrator({ config, configPath: ws.config, catalog, backup, approvalPollMs: 50 }), catalog, p: (n) => join(tmp.path, n) };
  }
  const scenario = (id: string, planId: string, more: Record<string, unknown> = {}) => ({
    id,
    name: `scenario ${id}`,
    severity: 'high',
    rto: 30,
    rpo: 60,
    affectedSystems: ['files'],
    triggers: [],
    recoveryPlans: [planId],
    ...more,
  });

  it('a DR test runs no production rollback, opens no incident, and marks its announcement as a test', async () => {
    const { orch, catalog, p } = await setup();
    orch.registerScenario(scenario('sc', 'pl', { notify: { command: `echo "$BKDR_MESSAGE" >> '${p('notify')}'` } }));
    orch.registerRecoveryPlan('pl', {
      steps: [
        { id: 'start', type: 'command', command: `echo prod-start >> '${p('prod')}'`, test: { command: 'true' }, rollback: { type: 'command', command: `echo STOP-PRODUCTION >> '${p('prod')}'` } },
        { id: 'check', type: 'command', command: 'exit 1', dependsOn: ['start'], onFailure: 'rollback' },
      ],
    });
    const r = await orch.runRecoveryTest('sc', { type: 'integration' });
    expect(r.passed).toBe(false);
    expect(lines(p('prod'))).toEqual([]);
    expect(catalog.incidents.list()).toEqual([]);
    expect(lines(p('notify'))[0]).toMatch(/^\[DR test\] scenario sc: DR execution \w+ rolled-back/);
  });

  it('a DR test restores into a test database even when its override names only a folder', async () => {
    const { orch, catalog } = await setup();
    orch.registerScenario(scenario('d', 'dp'));
    orch.registerRecoveryPlan('dp', { steps: [{ id: 'restore', type: 'restore', source: 'files', targetDatabase: 'app', force: true, test: { target: '/tmp/scratch' } }] });
    const r = await orch.runRecoveryTest('d', { type: 'integration', dryRun: true });
    const stored = catalog.drExecutions.get(r.scenarios[0]!.executions[0]!.id)!.plan as { steps: { step: { targetDatabase?: string } }[] };
    expect(stored.steps[0]!.step.targetDatabase).toBe('app_drtest');
  });

  it('an error after the execution is recorded ends it failed, not running: the scenario can be triggered again', async () => {
    const { orch } = await setup();
    orch.registerScenario(scenario('sc3', 'pl3'));
    orch.registerRecoveryPlan('pl3', { steps: [{ id: 'a', type: 'command', command: 'true' }] });
    const broken = await orch.triggerRecovery('sc3', {
      triggeredBy: 'x',
      onEvent: (e) => {
        if (e.type === 'step-finished') throw new Error('EPIPE on stderr');
      },
    });
    expect(broken.status).toBe('failed');
    expect(broken.error).toMatch(/EPIPE on stderr/);
    expect(orch.getHistory({ scenarioId: 'sc3' })[0]!.status).toBe('failed');
    expect((await orch.triggerRecovery('sc3', { triggeredBy: 'x' })).status).toBe('succeeded');
  });

  it('a rollback wins over an abort that failed first: what succeeded is undone', async () => {
    const { orch, p } = await setup();
    orch.registerScenario(scenario('r', 'rp'));
    orch.registerRecoveryPlan('rp', {
      steps: [
        { id: 'promote', type: 'command', command: `echo promote >> '${p('log')}'`, rollback: { type: 'command', command: `echo undo-promote >> '${p('log')}'` } },
        { id: 'side', type: 'command', command: 'sleep 0.1; exit 3', dependsOn: ['promote'] },
        { id: 'check', type: 'command', command: 'sleep 0.3; exit 1', dependsOn: ['promote'], onFailure: 'rollback' },
      ],
    });
    const r = await orch.triggerRecovery('r', { triggeredBy: 'x' });
    expect(r.status).toBe('rolled-back');
    expect(lines(p('log'))).toEqual(['promote', 'undo-promote']);
  });

  it('nobody is left asked to approve a recovery that has already failed', async () => {
    const { orch } = await setup();
    orch.registerScenario(scenario('a', 'ap'));
    orch.registerRecoveryPlan('ap', {
      steps: [
        { id: 'ok', type: 'approval', message: 'switch traffic?' },
        { id: 'restore-ish', type: 'command', command: 'exit 1' },
      ],
    });
    const r = await orch.triggerRecovery('a', { triggeredBy: 'x' });
    expect(r.status).toBe('failed');
    expect(r.steps.map((s) => [s.id, s.status])).toEqual([
      ['ap/ok', 'skipped'],
      ['ap/restore-ish', 'failed'],
    ]);
  });
});
