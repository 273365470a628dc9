import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FindingRecord } from '../../src/catalog/assessments-table.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import type { DrExecutionRecord } from '../../src/catalog/dr-executions-table.js';
import type { DrRecoveryPlan, DrScenario } from '../../src/config/dr-schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { conductAssessment } from '../../src/continuity/compliance/assess.js';
import type { Evidence } from '../../src/continuity/compliance/evidence.js';
import type { ControlResult } from '../../src/continuity/compliance/framework.js';
import { frameworkById } from '../../src/continuity/compliance/frameworks/index.js';
import { iso22301 } from '../../src/continuity/compliance/frameworks/iso-22301.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import type { Kpi } from '../../src/continuity/kpis.js';
import type { RegisterRisk } from '../../src/continuity/risk-register.js';
import { silentLogger } from '../../src/core/logger.js';
import { makeTempDir } from '../helpers/cli.js';
import { emptyEvidence } from '../helpers/evidence.js';

/**
 * ISO 22301 controls (CONTINUITY.md): each rule against hand-made evidence, one passing
 * and one failing case apiece, then one assessment through conductAssessment on a real
 * catalog. Config durations are milliseconds; execution objectives are seconds.
 */

const NOW = new Date('2026-12-06T12:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

type DrSystem = Evidence['systems'][number];

const system = (fields: Partial<DrSystem> & { name: string }): DrSystem => fields as DrSystem;
const scenario = (id: string, fields: Partial<DrScenario> = {}): DrScenario =>
  ({ id, name: id, severity: 'high', rto: HOUR, rpo: HOUR, affectedSystems: [], triggers: [], recoveryPlans: [{ planId: 'restart' }], ...fields }) as DrScenario;
const plan = (fields: { owner?: string; steps: { id: string; type: string }[] }): DrRecoveryPlan => fields as unknown as DrRecoveryPlan;
const risk = (id: string, fields: Partial<RegisterRisk>): RegisterRisk => ({ id, title: id, status: 'open', level: null, owner: null, treatment: null, ...fields }) as RegisterRisk;
const execution = (fields: Partial<DrExecutionRecord> & { scenarioId: string; startedAt: string }): DrExecutionRecord =>
  ({
    id: `${fields.scenarioId}-0000000`,
    status: 'succeeded',
    dryRun: false,
    triggeredBy: 'dr-test:integration:nightly',
    endedAt: fields.startedAt,
    steps: [],
    rto: { targetSeconds: null, achievedSeconds: null, met: null },
    rpo: { targetSeconds: null, achievedSeconds: null, met: null },
    ...fields,
  }) as DrExecutionRecord;
const kpi = (name: string, status: Kpi['status']): Kpi => ({ name, status, value: status === 'no-data' ? null : 1, critical: 0 }) as Kpi;
const finding = (id: string, dueDate: string): FindingRecord => ({ id, framework: 'SOX', controlId: 'BR-03', dueDate, resolvedAt: null }) as FindingRecord;

/** Evidence with nothing in it but the time; each case adds what its control reads. */
function evidence(fields: Partial<Evidence> = {}): Evidence {
  return emptyEvidence(NOW, fields);
}

function evaluate(id: string, e: Evidence, overrides: Record<string, number> = {}): ControlResult {
  const control = iso22301.controls.find((c) => c.id === id)!;
  return control.evaluate(e, { ...iso22301.defaults, ...overrides });
}

describe('ISO 22301 controls as pure rules', () => {
  it('is registered under ISO-22301 with the eight clauses, and the backup/recovery/testing scope selects 8.3, 8.4.4, 8.4.5, 8.5', () => {
    expect(frameworkById('iso 22301')).toBe(iso22301);
    expect(iso22301.controls.map((c) => c.id)).toEqual(['8.2.2', '8.2.3', '8.3', '8.4.4', '8.4.5', '8.5', '8.6', '9.1']);
    expect(iso22301.controls.filter((c) => ['backup', 'recovery', 'testing'].includes(c.area)).map((c) => c.id)).toEqual(['8.3', '8.4.4', '8.4.5', '8.5']);
  });

  describe('8.2.2 business impact analysis', () => {
    const complete = { name: 'app', criticality: 'critical' as const, rto: HOUR, rpo: 15 * MIN, mtpd: 4 * HOUR, reviewedAt: '2026-03-01' };

    it('passes: the critical system has RTO 1 h ≤ MTPD 4 h, an RPO, and was reviewed 2026-03-01, after the cutoff 2025-12-06', () => {
      const r = evaluate('8.2.2', evidence({ systems: [system(complete), system({ name: 'minor', criticality: 'low' })] }));
      expect(r.status).toBe('pass');
      expect(r.evidence['reviewedSince']).toBe('2025-12-06T12:00:00.000Z');
      expect(r.evidence['systems']).toEqual([{ name: 'app', rtoMs: HOUR, rpoMs: 15 * MIN, mtpdMs: 4 * HOUR, reviewedAt: '2026-03-01' }]);
    });

    it('fails: RTO 4 h exceeds MTPD 2 h, and the review of 2025-11-30 is more than 12 months old', () => {
      const r = evaluate('8.2.2', evidence({ systems: [system({ ...complete, rto: 4 * HOUR, mtpd: 2 * HOUR, reviewedAt: '2025-11-30' })] }));
      expect(r.status).toBe('fail');
      expect(r.detail).toBe("app's RTO 240 min exceeds its MTPD 120 min; app was last reviewed on 2025-11-30, more than 12 months ago");
    });

    it('fails when no system is described at all; does not apply when none is critical', () => {
      expect(evaluate('8.2.2', evidence()).status).toBe('fail');
      expect(evaluate('8.2.2', evidence({ systems: [system({ name: 'minor', criticality: 'low' })] })).status).toBe('not-applicable');
    });
  });

  describe('8.2.3 risk assessment', () => {
    it('passes: R-1 is high (level 3) with a treatment and an owner; R-2 is low (level 1) and needs neither', () => {
      const r = evaluate('8.2.3', evidence({ risks: [risk('R-1', { level: 3, treatment: 'mitigate', owner: 'ops' }), risk('R-2', { level: 1 })] }));
      expect(r.status).toBe('pass');
      expect(r.evidence).toMatchObject({ risks: 2, unscored: [], untreated: [] });
    });

    it('fails: R-1 is not scored and R-2 is very high (level 4) without an owner; the closed R-3 is not counted', () => {
      const r = evaluate('8.2.3', evidence({ risks: [risk('R-1', {}), risk('R-2', { level: 4, treatment: 'mitigate' }), risk('R-3', { status: 'closed' })] }));
      expect(r.status).toBe('fail');
      expect(r.evidence).toMatchObject({ risks: 2, unscored: ['R-1'], untreated: ['R-2'] });
    });
  });

  describe('8.3 continuity solutions', () => {
    const sources = [{ name: 'db', type: 'postgres', scheduleIntervalMs: HOUR, continuous: false }];
    const plans = new Map([['restart', plan({ steps: [] })]]);

    it('passes: the critical system names the configured source db and is covered by outage, whose plan restart exists', () => {
      const r = evaluate(
        '8.3',
        evidence({ systems: [system({ name: 'app', criticality: 'critical', sources: ['db'] })], sources, plans, scenarios: [scenario('outage', { affectedSystems: ['app'] })] }),
      );
      expect(r.status).toBe('pass');
      expect(r.evidence['coverage']).toEqual([{ system: 'app', sources: ['db'], scenarios: ['outage'] }]);
    });

    it("fails: the source is not configured, and the scenario's plan is not defined", () => {
      const r = evaluate(
        '8.3',
        evidence({
          systems: [system({ name: 'app', criticality: 'critical', sources: ['gone'], scenarios: ['outage'] })],
          sources,
          plans: new Map(),
          scenarios: [scenario('outage')],
        }),
      );
      expect(r.status).toBe('fail');
      expect(r.detail).toBe('app has no configured backup source; app has no scenario with a defined recovery plan');
    });
  });

  describe('8.4.4 plans documented', () => {
    it('passes: restart has steps, an owner and a notify step', () => {
      const r = evaluate(
        '8.4.4',
        evidence({
          plans: new Map([
            [
              'restart',
              plan({
                owner: 'ops',
                steps: [
                  { id: 'up', type: 'command' },
                  { id: 'tell', type: 'notify' },
                ],
              }),
            ],
          ]),
        }),
      );
      expect(r.status).toBe('pass');
      expect(r.evidence['plans']).toEqual([{ id: 'restart', steps: 2, owner: 'ops', notify: true }]);
    });

    it('fails: restart has neither an owner nor a notify step', () => {
      const r = evaluate('8.4.4', evidence({ plans: new Map([['restart', plan({ steps: [{ id: 'up', type: 'command' }] })]]) }));
      expect(r.status).toBe('fail');
      expect(r.detail).toBe('restart has no owner; restart has no notify step');
    });
  });

  describe('8.4.5 recovery achieves objectives', () => {
    // Scenario outage: RTO 60 min = 3600 s, RPO 60 min = 3600 s.
    const scenarios = [scenario('outage')];

    it('passes: the last drill achieved RTO 1800 s ≤ 3600 s and RPO 600 s ≤ 3600 s; an older failed one does not count', () => {
      const executions = [
        execution({ scenarioId: 'outage', startedAt: ago(DAY), rto: { targetSeconds: 3600, achievedSeconds: 1800, met: true }, rpo: { targetSeconds: 3600, achievedSeconds: 600, met: true } }),
        execution({ scenarioId: 'outage', startedAt: ago(10 * DAY), status: 'failed' }),
      ];
      const r = evaluate('8.4.5', evidence({ scenarios, executions }));
      expect(r.status).toBe('pass');
      expect(r.evidence['last']).toMatchObject([{ scenario: 'outage', kind: 'dr-test', status: 'succeeded', rto: { targetSeconds: 3600, achievedSeconds: 1800 } }]);
    });

    it('fails: the last recovery achieved RTO 5400 s, above 3600 s', () => {
      const executions = [execution({ scenarioId: 'outage', startedAt: ago(DAY), triggeredBy: 'watch', rto: { targetSeconds: 3600, achievedSeconds: 5400, met: false } })];
      const r = evaluate('8.4.5', evidence({ scenarios, executions }));
      expect(r.status).toBe('fail');
      expect(r.detail).toBe("outage's last recovery achieved RTO 5400 s, above its 3600 s");
    });
  });

  describe('8.5 exercise programme', () => {
    // outage covers the critical system app; minor is neither critical nor covers one.
    const base = { systems: [system({ name: 'app', criticality: 'critical' })], scenarios: [scenario('outage', { affectedSystems: ['app'] }), scenario('minor')] };

    it('passes: outage was tested 30 days ago, within 90', () => {
      const r = evaluate('8.5', evidence({ ...base, executions: [execution({ scenarioId: 'outage', startedAt: ago(30 * DAY) })] }));
      expect(r.status).toBe('pass');
      expect(r.evidence).toMatchObject({ withinDays: 90, stale: [], lastTest: [{ scenario: 'outage', lastTestAt: ago(30 * DAY) }] });
    });

    it('fails: the last test of outage was 120 days ago, and a real recovery 1 day ago is no exercise', () => {
      const executions = [execution({ scenarioId: 'outage', startedAt: ago(DAY), triggeredBy: 'manual' }), execution({ scenarioId: 'outage', startedAt: ago(120 * DAY) })];
      const r = evaluate('8.5', evidence({ ...base, executions }));
      expect(r.status).toBe('fail');
      expect(r.evidence['stale']).toEqual(['outage']);
      // With the window widened to 150 days it passes: the setting is read.
      expect(evaluate('8.5', evidence({ ...base, executions }), { exerciseWithinDays: 150 }).status).toBe('pass');
    });
  });

  describe('8.6 findings corrected in time', () => {
    it('passes: the one open finding is due today, 2026-12-06', () => {
      const r = evaluate('8.6', evidence({ findings: [finding('f1', '2026-12-06')] }));
      expect(r.status).toBe('pass');
      expect(r.evidence).toMatchObject({ today: '2026-12-06', openFindings: 1, overdue: [] });
    });

    it('fails: one of two open findings was due 2026-12-05', () => {
      const r = evaluate('8.6', evidence({ findings: [finding('f1', '2026-12-05'), finding('f2', '2027-01-01')] }));
      expect(r.status).toBe('fail');
      expect(r.detail).toBe('1 of 2 open findings are past their due date');
    });
  });

  describe('9.1 monitoring and measurement', () => {
    it('passes: both KPIs have data, one ok and one warning', () => {
      expect(evaluate('9.1', evidence({ kpis: [kpi('backup_success_rate', 'ok'), kpi('verify_coverage', 'warning')] })).status).toBe('pass');
    });

    it('fails: one KPI has no data and another is critical', () => {
      const r = evaluate('9.1', evidence({ kpis: [kpi('system_availability', 'no-data'), kpi('backup_success_rate', 'critical'), kpi('verify_coverage', 'ok')] }));
      expect(r.status).toBe('fail');
      expect(r.evidence).toMatchObject({ noData: ['system_availability'], critical: ['backup_success_rate'] });
    });
  });
});

describe('ISO 22301 assessed through conductAssessment (in-process, real catalog)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-iso-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  it('scores 6 of 8 = 75 %: 8.4.4 (plan page has no owner, no notify) and 9.1 (KPIs without data) fail; the backup/recovery/testing scope scores 3 of 4 = 75 %', () => {
    const config = validateConfig(
      {
        sources: { files: { type: 'files', paths: [tmp.path], schedule: { type: 'interval', expression: String(HOUR) } } },
        destinations: [{ name: 'local', type: 'local', config: { path: join(tmp.path, 'repo') } }],
        systems: [{ name: 'app', criticality: 'critical', rto: '1h', rpo: '1h', mtpd: '4h', sources: ['files'], scenarios: ['outage'], reviewedAt: '2026-06-01' }],
        recoveryPlans: {
          restart: {
            owner: 'ops',
            steps: [
              { id: 'up', type: 'command', command: 'true' },
              { id: 'tell', type: 'notify', command: 'true', message: 'app restarted' },
            ],
          },
          page: { steps: [{ id: 'up', type: 'command', command: 'true' }] },
        },
        scenarios: [{ id: 'outage', name: 'outage', severity: 'critical', rto: 60, rpo: 60, affectedSystems: ['app'], triggers: [], recoveryPlans: ['restart'] }],
        risks: [{ id: 'R-1', title: 'Ransomware', likelihood: 3, impact: 5, owner: 'security', treatment: 'mitigate' }],
      },
      join(tmp.path, 'backup.config.json'),
    );
    // A DR test of outage 10 days ago that recovered in 600 s against an RTO of 3600 s.
    const id = catalog.drExecutions.create({
      scenarioId: 'outage',
      triggeredBy: 'dr-test:integration:nightly',
      startedAt: new Date(NOW.getTime() - 10 * DAY),
      rtoTargetSeconds: 3600,
      plan: null,
      steps: [],
    });
    catalog.drExecutions.finish(id, 'succeeded', { endedAt: new Date(NOW.getTime() - 10 * DAY + 600_000), rtoAchievedSeconds: 600 });
    const ctx: ContinuityContext = { config, configDir: tmp.path, catalog, logger: silentLogger, now: () => NOW };

    const result = conductAssessment(ctx, 'iso-22301', { assessor: 'auditor' });
    const status = Object.fromEntries(result.controls.map((c) => [c.id, c.status]));
    expect(status).toEqual({ '8.2.2': 'pass', '8.2.3': 'pass', '8.3': 'pass', '8.4.4': 'fail', '8.4.5': 'pass', '8.5': 'pass', '8.6': 'pass', '9.1': 'fail' });
    // 6 passed of 8 applicable, each of weight 1: 6 / 8 × 100 = 75.
    expect(result.overallCompliance).toBe(75);
    expect(catalog.assessments.list({}).find((a) => a.id === result.id)!.overallCompliance).toBe(75);
    // Both failures are medium: due 90 days after 2026-12-06.
    expect(result.findings.map((f) => [f.controlId, f.severity, f.dueDate])).toEqual([
      ['8.4.4', 'medium', '2027-03-06'],
      ['9.1', 'medium', '2027-03-06'],
    ]);

    // 8.3, 8.4.4, 8.4.5, 8.5 in scope; 8.4.4 fails: 3 / 4 × 100 = 75.
    const scoped = conductAssessment(ctx, 'ISO-22301', { assessor: 'auditor', scope: ['backup', 'recovery', 'testing'] });
    expect(scoped.controls.map((c) => c.id)).toEqual(['8.3', '8.4.4', '8.4.5', '8.5']);
    expect(scoped.overallCompliance).toBe(75);
  });
});
