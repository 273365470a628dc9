import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/catalog/audit-log.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import type { DrExecutionRecord, DrStepRecord } from '../../src/catalog/dr-executions-table.js';
import type { RunRecord } from '../../src/catalog/runs-table.js';
import type { DrRecoveryPlan, DrScenario } from '../../src/config/dr-schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { conductAssessment } from '../../src/continuity/compliance/assess.js';
import type { Evidence, TestRestoreEvidence } from '../../src/continuity/compliance/evidence.js';
import { type ControlResult, DAY_MS } from '../../src/continuity/compliance/framework.js';
import { frameworkById } from '../../src/continuity/compliance/frameworks/index.js';
import { nistCsf } from '../../src/continuity/compliance/frameworks/nist-csf.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import { silentLogger } from '../../src/core/logger.js';
import { makeTempDir } from '../helpers/cli.js';
import { emptyEvidence } from '../helpers/evidence.js';

/**
 * NIST CSF 2.0 controls (CONTINUITY.md): each pure rule against hand-built evidence,
 * a pass and a fail (and not-applicable where the rule has one), then one assessment
 * over a real catalog whose score is computed by hand.
 */

const NOW = new Date('2027-03-01T12:00:00.000Z');
const daysAgo = (d: number): string => new Date(NOW.getTime() - d * DAY_MS).toISOString();

function evidence(over: Partial<Evidence> = {}): Evidence {
  return emptyEvidence(NOW, over);
}

function execution(over: Partial<DrExecutionRecord>): DrExecutionRecord {
  const objective = { targetSeconds: null, achievedSeconds: null, met: null };
  return {
    id: 'x1',
    scenarioId: 'outage',
    status: 'succeeded',
    dryRun: false,
    triggeredBy: 'manual',
    reason: null,
    detectionAt: null,
    failureAt: null,
    startedAt: daysAgo(2),
    endedAt: daysAgo(2),
    error: null,
    host: null,
    pid: null,
    plan: null,
    steps: [],
    rto: objective,
    rpo: objective,
    ...over,
  };
}

const step = (id: string, type: string, status: DrStepRecord['status']): DrStepRecord => ({
  id,
  planId: id.split('/')[0]!,
  type,
  status,
  attempts: 1,
  startedAt: null,
  endedAt: null,
  error: null,
  output: null,
  weight: 1,
});

const scenario = (id: string, recoveryPlans: DrScenario['recoveryPlans']): DrScenario => ({
  id,
  name: id,
  severity: 'high',
  rto: 3_600_000,
  rpo: 3_600_000,
  affectedSystems: [],
  triggers: [],
  recoveryPlans,
});
const restorePlan = (source: string, verify?: boolean): DrRecoveryPlan =>
  ({ steps: [{ type: 'restore', id: 'restore', source, onFailure: 'abort', ...(verify === undefined ? {} : { verify }) }] }) as DrRecoveryPlan;
const audit = (seq: number, action: string, time: string): AuditEntry => ({ seq, action, time, actor: 'ops@host', target: '', payload: {}, prevHash: '', hash: '' });
const verifyRun = (finishedAt: string, destinations: { destination: string; damaged: boolean }[]): RunRecord => ({
  id: `v-${finishedAt}`,
  kind: 'verify',
  source: null,
  destinations: destinations.map((d) => d.destination),
  strategy: null,
  status: 'succeeded',
  startedAt: finishedAt,
  finishedAt,
  error: null,
  summary: { destinations },
  host: null,
  pid: null,
});
const testRestore = (at: string, ok = true): TestRestoreEvidence => ({ at, source: 'files', destination: 'local', durationMs: 1000, ok, from: 'verify' });

function evaluate(id: string, e: Evidence): ControlResult {
  return nistCsf.controls.find((c) => c.id === id)!.evaluate(e, nistCsf.defaults);
}

describe('NIST CSF 2.0 framework', () => {
  it('is registered under NIST-CSF with its 8 controls and the brief defaults', () => {
    expect(frameworkById('nist csf')).toBe(nistCsf);
    expect(nistCsf.basis).toMatch(/^NIST Cybersecurity Framework 2\.0/);
    expect(nistCsf.controls.map((c) => c.id)).toEqual(['PR.DS-11', 'PR.DS-01', 'RC.RP-01', 'RC.RP-02', 'RC.RP-03', 'RC.RP-05', 'RC.RP-06', 'ID.IM-02']);
    expect(nistCsf.defaults).toEqual({ testRestoreWithinDays: 30, verifyWithinDays: 7 });
  });
});

describe('NIST CSF rules on hand-built evidence', () => {
  const scheduled = [{ name: 'files', type: 'files', scheduleIntervalMs: 3_600_000, continuous: false }];
  const encrypted = [{ name: 'local', type: 'local', encrypted: true, offsite: false }];

  it('PR.DS-11: passes with a scheduled source, an encrypted destination and a test restore 10 days ago; fails at 31 days (window 30) and without a schedule', () => {
    expect(evaluate('PR.DS-11', evidence({ sources: scheduled, destinations: encrypted, testRestores: [testRestore(daysAgo(10))] })).status).toBe('pass');
    const stale = evaluate('PR.DS-11', evidence({ sources: scheduled, destinations: encrypted, testRestores: [testRestore(daysAgo(31))] }));
    expect(stale).toMatchObject({ status: 'fail', detail: 'no successful test restore within 30 days' });
    const unscheduled = evaluate('PR.DS-11', evidence({ sources: [{ ...scheduled[0]!, scheduleIntervalMs: null }], destinations: encrypted, testRestores: [testRestore(daysAgo(1))] }));
    expect(unscheduled).toMatchObject({ status: 'fail', detail: 'no schedule for files' });
    expect(evaluate('PR.DS-11', evidence()).status).toBe('not-applicable');
  });

  it('PR.DS-01: passes when all destinations are encrypted; fails naming the 1 of 2 that is not', () => {
    expect(evaluate('PR.DS-01', evidence({ destinations: encrypted })).status).toBe('pass');
    const result = evaluate('PR.DS-01', evidence({ destinations: [...encrypted, { name: 's3', type: 's3', encrypted: false, offsite: true }] }));
    expect(result).toMatchObject({ status: 'fail', detail: '1 of 2 destinations are not encrypted: s3' });
  });

  it('RC.RP-01: passes when the newest dry run of each scenario is clean, though an older one had problems; fails on a newer bad dry run and names a scenario never dry-run', () => {
    const scenarios = [scenario('outage', [{ planId: 'p' }]), scenario('flood', [{ planId: 'p' }])];
    const clean = (id: string, sc: string, d: number) => execution({ id, scenarioId: sc, dryRun: true, status: 'planned', startedAt: daysAgo(d) });
    const bad = (id: string, sc: string, d: number) => ({ ...clean(id, sc, d), error: 'preflight found problems' });
    // Newest first, as the evidence holds them.
    expect(evaluate('RC.RP-01', evidence({ scenarios, dryRuns: [clean('d3', 'outage', 1), clean('d2', 'flood', 2), bad('d1', 'outage', 3)] })).status).toBe('pass');
    const result = evaluate('RC.RP-01', evidence({ scenarios, dryRuns: [bad('d3', 'outage', 1), clean('d1', 'outage', 3)] }));
    expect(result).toMatchObject({ status: 'fail', detail: 'never dry-run: flood; newest dry run found problems: outage (preflight found problems)' });
    expect(evaluate('RC.RP-01', evidence()).status).toBe('not-applicable');
  });

  describe('RC.RP-02', () => {
    const systems = [
      { name: 'database', criticality: 'critical' as const, sources: ['db'] },
      { name: 'web', criticality: 'high' as const, sources: ['site'], dependencies: ['database'] },
    ];
    const plans = new Map([
      ['db-plan', restorePlan('db')],
      ['web-plan', restorePlan('site')],
    ]);

    it('passes when the web plan depends on the database plan, which is also first by priority', () => {
      const e = evidence({ systems, plans, scenarios: [scenario('outage', [{ planId: 'db-plan' }, { planId: 'web-plan', dependsOn: ['db-plan'] }])] });
      const result = evaluate('RC.RP-02', e);
      // Two orderings: web-plan waits for db-plan (web depends on database), and db-plan (critical) ranks before web-plan (high).
      expect(result).toMatchObject({ status: 'pass', detail: '2 orderings the BIA asks of the plans are respected' });
    });

    it('fails when web is restored first without waiting: both the dependency and the criticality order are broken', () => {
      const e = evidence({ systems, plans, scenarios: [scenario('outage', [{ planId: 'web-plan' }, { planId: 'db-plan' }])] });
      const result = evaluate('RC.RP-02', e);
      expect(result.status).toBe('fail');
      expect(result.detail).toBe(
        'outage: db-plan should come before web-plan (web depends on database); outage: db-plan should come before web-plan (db-plan restores more critical systems (database) than web-plan (web))',
      );
    });

    it('priority alone satisfies criticality, not a dependency', () => {
      const independent = systems.map((s) => ({ ...s, dependencies: [] }));
      const byPriority = evidence({
        systems: independent,
        plans,
        scenarios: [
          scenario('outage', [
            { planId: 'web-plan', priority: 2 },
            { planId: 'db-plan', priority: 1 },
          ]),
        ],
      });
      expect(evaluate('RC.RP-02', byPriority).status).toBe('pass');
      const dependent = evidence({
        systems,
        plans,
        scenarios: [
          scenario('outage', [
            { planId: 'web-plan', priority: 2 },
            { planId: 'db-plan', priority: 1 },
          ]),
        ],
      });
      expect(evaluate('RC.RP-02', dependent)).toMatchObject({ status: 'fail', detail: 'outage: db-plan should come before web-plan (web depends on database)' });
    });

    it('is not applicable when the plans restore no configured system', () => {
      const e = evidence({ plans, scenarios: [scenario('outage', [{ planId: 'web-plan' }, { planId: 'db-plan' }])] });
      expect(evaluate('RC.RP-02', e).status).toBe('not-applicable');
    });
  });

  it('RC.RP-03: passes with a clean verify 3 days ago and restore steps that verify; fails on an 8-day-old verify (window 7) and a restore without verify', () => {
    const plans = new Map([['p', restorePlan('files', true)]]);
    expect(evaluate('RC.RP-03', evidence({ destinations: encrypted, plans, runs: [verifyRun(daysAgo(3), [{ destination: 'local', damaged: false }])] })).status).toBe('pass');
    const result = evaluate(
      'RC.RP-03',
      evidence({ destinations: encrypted, plans: new Map([['p', restorePlan('files')]]), runs: [verifyRun(daysAgo(8), [{ destination: 'local', damaged: false }])] }),
    );
    expect(result).toMatchObject({ status: 'fail', detail: 'no clean verify within 7 days of local; restore steps without verify: p/restore' });
    // A damaged verify is no verify.
    const damaged = evaluate('RC.RP-03', evidence({ destinations: encrypted, plans, runs: [verifyRun(daysAgo(1), [{ destination: 'local', damaged: true }])] }));
    expect(damaged).toMatchObject({ status: 'fail', detail: 'no clean verify within 7 days of local' });
  });

  it('RC.RP-05: reads the newest ended execution; its checks after the restore must have succeeded (a command before the restore is no check)', () => {
    const steps = (check: DrStepRecord['status']) => [step('p/stop', 'command', 'failed'), step('p/restore', 'restore', 'succeeded'), step('p/ping', 'http', check), step('p/sql', 'sql', 'succeeded')];
    const running = execution({ id: 'x3', status: 'running', endedAt: null, steps: [] });
    expect(evaluate('RC.RP-05', evidence({ executions: [running, execution({ id: 'x2', steps: steps('succeeded') })] }))).toMatchObject({
      status: 'pass',
      detail: 'all 2 check steps of execution x2 (outage) passed',
    });
    expect(evaluate('RC.RP-05', evidence({ executions: [execution({ id: 'x2', status: 'failed', steps: steps('failed') })] }))).toMatchObject({
      status: 'fail',
      detail: 'execution x2 (outage): p/ping failed',
    });
    expect(evaluate('RC.RP-05', evidence({ executions: [execution({ id: 'x2', steps: [step('p/restore', 'restore', 'succeeded')] })] })).status).toBe('fail');
    expect(evaluate('RC.RP-05', evidence({ executions: [running] })).status).toBe('not-applicable');
  });

  it('RC.RP-06: passes when each settled execution ended with a status and time; an interrupted one fails; a running one is left out', () => {
    const running = execution({ id: 'x3', status: 'running', endedAt: null });
    expect(evaluate('RC.RP-06', evidence({ executions: [running, execution({ id: 'x1' })] }))).toMatchObject({ status: 'pass', detail: 'all 1 executions ended with a status and an end time' });
    const result = evaluate('RC.RP-06', evidence({ executions: [running, execution({ id: 'x2', status: 'interrupted', endedAt: null }), execution({ id: 'x1' })] }));
    expect(result).toMatchObject({ status: 'fail', detail: '1 of 2 executions never ended with a status and time: x2 (interrupted)' });
    expect(evaluate('RC.RP-06', evidence({ executions: [running] })).status).toBe('not-applicable');
  });

  it('ID.IM-02: a config change after the failed test passes; one before it does not; no failed test is not applicable', () => {
    const failedTest = execution({ id: 't1', triggeredBy: 'dr-test:e2e:nightly', status: 'rolled-back', endedAt: daysAgo(5) });
    const after = evidence({ executions: [failedTest], audit: { entries: [audit(1, 'config.migrate', daysAgo(4))], chain: { ok: true, rows: 1 } } });
    expect(evaluate('ID.IM-02', after).status).toBe('pass');
    const before = evidence({ executions: [failedTest], audit: { entries: [audit(1, 'config.init', daysAgo(6)), audit(2, 'dr.trigger', daysAgo(4))], chain: { ok: true, rows: 2 } } });
    expect(evaluate('ID.IM-02', before)).toMatchObject({ status: 'fail', detail: 'no config or plan change recorded after 1 of 1 failed DR tests: t1 (outage)' });
    // A failed real recovery is not a test.
    expect(evaluate('ID.IM-02', evidence({ executions: [{ ...failedTest, triggeredBy: 'manual' }] })).status).toBe('not-applicable');
  });
});

describe('NIST CSF assessment over a real catalog (in-process)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-nist-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  it('scores 3 passed of 8 applicable controls = 37.5 and opens a finding for each of the 5 failures', () => {
    const hourly = { type: 'interval', expression: '3600000' };
    const config = validateConfig(
      {
        sources: { db: { type: 'files', paths: [join(tmp.path, 'db')], schedule: hourly }, site: { type: 'files', paths: [join(tmp.path, 'site')], schedule: hourly } },
        destinations: [
          { name: 'local', type: 'local', config: { path: join(tmp.path, 'repo') } },
          { name: 'plain', type: 'local', encryption: false, config: { path: join(tmp.path, 'plain') } },
        ],
        systems: [
          { name: 'database', criticality: 'critical', sources: ['db'] },
          { name: 'web', criticality: 'high', sources: ['site'], dependencies: ['database'] },
        ],
        recoveryPlans: {
          'db-plan': {
            steps: [
              { type: 'restore', id: 'restore', source: 'db', verify: true },
              { type: 'http', id: 'ping', url: 'http://127.0.0.1:9/health', dependsOn: ['restore'] },
            ],
          },
          'web-plan': { steps: [{ type: 'restore', id: 'restore', source: 'site' }] },
        },
        scenarios: [{ id: 'outage', name: 'Outage', severity: 'critical', rto: 60, rpo: 60, affectedSystems: ['database', 'web'], triggers: [], recoveryPlans: ['web-plan', 'db-plan'] }],
        catalog: { path: join(tmp.path, 'catalog.db') },
      },
      join(tmp.path, 'backup.config.json'),
    );
    const now = Date.now();
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
    const steps = [
      { planId: 'db-plan', stepId: 'restore', type: 'restore' },
      { planId: 'db-plan', stepId: 'ping', type: 'http' },
      { planId: 'web-plan', stepId: 'restore', type: 'restore' },
    ];
    // A clean dry run of the one scenario.
    const dry = catalog.drExecutions.create({ scenarioId: 'outage', dryRun: true, triggeredBy: 'manual', startedAt: at(120), plan: null, steps });
    catalog.drExecutions.finish(dry, 'planned', { endedAt: at(119) });
    // A DR test whose database restore worked but whose health check failed.
    const test = catalog.drExecutions.create({ scenarioId: 'outage', triggeredBy: 'dr-test:e2e:nightly', startedAt: at(60), plan: null, steps });
    catalog.drExecutions.updateStep(test, 'db-plan/restore', { status: 'succeeded', startedAt: at(60), endedAt: at(55) });
    catalog.drExecutions.updateStep(test, 'db-plan/ping', { status: 'failed', startedAt: at(55), endedAt: at(54), error: 'connection refused' });
    catalog.drExecutions.finish(test, 'failed', { endedAt: at(50) });
    // The lesson recorded: the config changed after the test.
    catalog.audit.append({ action: 'config.migrate', target: 'backup.config.ts', payload: {} });

    const ctx: ContinuityContext = { config, configDir: tmp.path, catalog, logger: silentLogger, now: () => new Date() };
    const result = conductAssessment(ctx, 'nist-csf', { assessor: 'auditor' });
    const status = Object.fromEntries(result.controls.map((c) => [c.id, c.status]));
    // PR.DS-11: `plain` is not encrypted (the test restore 55 min ago is within 30 d). PR.DS-01: same. RC.RP-02: web-plan runs first and does not
    // wait for db-plan, though web depends on the critical database. RC.RP-03: no verify run; web-plan's restore does not verify.
    // RC.RP-05: the test's ping after the restore failed. Passing: RC.RP-01 (clean dry run), RC.RP-06 (the test ended, failed, with a time),
    // ID.IM-02 (config.migrate after the failed test).
    expect(status).toEqual({
      'PR.DS-11': 'fail',
      'PR.DS-01': 'fail',
      'RC.RP-01': 'pass',
      'RC.RP-02': 'fail',
      'RC.RP-03': 'fail',
      'RC.RP-05': 'fail',
      'RC.RP-06': 'pass',
      'ID.IM-02': 'pass',
    });
    // 3 / 8 × 100 = 37.5
    expect(result.overallCompliance).toBe(37.5);
    expect(result.findings.map((f) => [f.controlId, f.severity]).sort()).toEqual([
      ['PR.DS-01', 'critical'],
      ['PR.DS-11', 'high'],
      ['RC.RP-02', 'medium'],
      ['RC.RP-03', 'high'],
      ['RC.RP-05', 'medium'],
    ]);
    expect(result.controls.find((c) => c.id === 'PR.DS-11')!.detail).toBe('not encrypted: plain');
  });
});
