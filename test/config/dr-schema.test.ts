import { describe, expect, it } from 'vitest';
import { listScenarios, minutesOrDuration, parseDrDuration, recoveryPlansById } from '../../src/config/dr-schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { ConfigValidationError } from '../../src/config/validation-error.js';
import { briefScenarios } from '../helpers/brief-scenarios.js';

const minimal = { sources: { database: { type: 'postgres', url: 'postgres://backup@db/app' } }, destinations: [{ type: 'local', config: { path: '/backup' } }] };

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    validateConfig(input);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.issues;
    throw err;
  }
  return [];
}

// CLI.md "Disaster recovery and continuity: configuration", the check step written as each of its types.
const cliExample = {
  monitoring: {
    logs: { app: ['/var/log/app/*.log'] },
    metrics: { url: 'http://127.0.0.1:9187/metrics' },
    healthChecks: {
      database_health: { type: 'tcp', target: 'db.internal:5432', interval: '10s', timeout: '2s', failures: 3 },
      app_health: { type: 'http', url: 'http://127.0.0.1:8080/healthz', expectStatus: 200, interval: '5s', failures: 2 },
      queue_health: { type: 'command', command: 'systemctl is-active queue', interval: '30s' },
    },
  },
  scenarios: [
    {
      id: 'db-failure',
      name: 'Database Complete Failure',
      severity: 'critical',
      rto: 30,
      rpo: 5,
      affectedSystems: ['database', 'api'],
      triggers: [
        { type: 'metric', condition: 'db_connection_failures > 10', for: '1m' },
        { type: 'health_check', condition: 'database_health == false' },
        { type: 'log', condition: 'ERROR.*database.*corruption', paths: ['/var/log/app/*.log'] },
        { type: 'external', condition: 'datacenter_power_failure' },
      ],
      automatic: true,
      recoveryPlans: [
        { planId: 'database-recovery', priority: 1 },
        { planId: 'cache-rebuild', priority: 2, dependsOn: ['database-recovery'] },
      ],
    },
  ],
  recoveryPlans: {
    'database-recovery': {
      steps: [
        { id: 'restore', type: 'restore', source: 'database', at: 'latest', target: '/var/lib/postgresql/15/restored', timeout: '30m' },
        { id: 'start', type: 'command', command: 'systemctl start postgresql', dependsOn: ['restore'], retries: 2, rollback: { type: 'command', command: 'systemctl stop postgresql' } },
        { id: 'check', type: 'sql', source: 'database', query: 'SELECT 1', dependsOn: ['start'], timeout: '2m' },
        { id: 'check-http', type: 'http', url: 'http://127.0.0.1:8080/healthz', dependsOn: ['start'], timeout: '2m' },
        { id: 'check-tcp', type: 'tcp', target: 'db.internal:5432', dependsOn: ['start'], timeout: '2m' },
        { id: 'check-command', type: 'command', command: 'pg_isready', dependsOn: ['start'], timeout: '2m' },
        { id: 'approve', type: 'approval', approvers: ['oncall-lead'], message: 'switch traffic?' },
        { id: 'notify', type: 'notify', webhook: 'https://hooks.example/ops', message: 'database restored', dependsOn: ['check'] },
        { id: 'settle', type: 'wait', duration: '30s' },
        { id: 'fresh-backup', type: 'backup', source: 'database' },
        { id: 'verify', type: 'verify', source: 'database' },
      ],
    },
  },
  drTests: { quarterly: { type: 'e2e', scenarios: ['db-failure'], schedule: { type: 'cron', expression: '0 3 1 */3 *' } } },
  systems: [{ name: 'database', criticality: 'critical', rto: '30m', rpo: '5m', mtpd: '4h', dependencies: [], sources: ['database'], personalData: true, tags: ['sox'] }],
  risks: [{ id: 'R-1', title: 'Ransomware', likelihood: 3, impact: 5, owner: 'security', treatment: 'mitigate', mitigations: ['offsite encrypted copies'], reviewBy: '2027-06-30' }],
  kpiThresholds: {
    system_availability: { warning: 99.5, critical: 99.0 },
    mean_time_to_recovery: { warning: 45, critical: 60 },
    backup_success_rate: { warning: 97, critical: 95 },
  },
  complianceFrameworks: ['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR'],
  serve: {
    tokens: [
      { name: 'grafana', role: 'read', tokenFile: '/etc/bkdr/read.token' },
      { name: 'ops', role: 'operate', tokenFile: '/etc/bkdr/ops.token' },
    ],
  },
};

const MIN = 60_000;

describe('DR configuration', () => {
  it("loads CLI.md's DR example whole", () => {
    const config = validateConfig({ ...minimal, ...cliExample });
    const plan = (config.recoveryPlans as Record<string, { steps: { id: string; type: string; onFailure: string; rollback?: unknown[]; timeout?: number }[] }>)['database-recovery'];
    expect(plan?.steps.map((s) => s.type)).toEqual(['restore', 'command', 'sql', 'http', 'tcp', 'command', 'approval', 'notify', 'wait', 'backup', 'verify']);
    expect(plan?.steps[0]?.timeout).toBe(30 * MIN);
    expect(plan?.steps[0]?.onFailure).toBe('abort');
    expect(plan?.steps[1]?.rollback).toEqual([{ type: 'command', command: 'systemctl stop postgresql' }]);
    expect(config.monitoring?.healthChecks?.['database_health']).toMatchObject({ interval: 10_000, timeout: 2_000, failures: 3 });
    expect(config.systems?.[0]).toMatchObject({ rto: 30 * MIN, rpo: 5 * MIN, mtpd: 240 * MIN });
    const [scenario] = config.scenarios as { triggers: { type: string; for?: number }[]; recoveryPlans: unknown[] }[];
    expect(scenario?.triggers[0]).toEqual({ type: 'metric', condition: 'db_connection_failures > 10', for: MIN });
    expect(scenario?.recoveryPlans[1]).toEqual({ planId: 'cache-rebuild', priority: 2, dependsOn: ['database-recovery'] });
  });

  it("loads the brief's scenarios unchanged; rto: 30 is 30 minutes", () => {
    const config = validateConfig({ ...minimal, scenarios: briefScenarios });
    const scenarios = config.scenarios as { id: string; rto: number; rpo: number; triggers: { type: string }[]; recoveryPlans: { planId: string }[] }[];
    expect(scenarios.map((s) => [s.id, s.rto / MIN, s.rpo / MIN])).toEqual([
      ['db-failure', 30, 5],
      ['datacenter-outage', 60, 15],
      ['database-corruption', 120, 60],
    ]);
    expect(scenarios[0]?.triggers.map((t) => t.type)).toEqual(['metric', 'health_check']);
    expect(scenarios[1]?.recoveryPlans.map((p) => p.planId)).toEqual(['failover-to-secondary', 'dns-update', 'data-sync']);
  });

  it('takes the record forms of scenarios and recoveryPlans, and the first draft trigger names', () => {
    const [first] = briefScenarios;
    const config = validateConfig({
      ...minimal,
      scenarios: {
        'db-failure': {
          ...first,
          id: undefined,
          triggers: [
            { type: 'health', condition: 'database_health == false' },
            { type: 'alert', condition: 'DatabaseDown' },
          ],
        },
      },
      recoveryPlans: [{ id: 'database-recovery', steps: [{ id: 'wait', type: 'wait', duration: 2 }] }],
    });
    const [scenario] = listScenarios(config);
    expect(scenario?.id).toBe('db-failure');
    expect(scenario?.triggers.map((t) => t.type)).toEqual(['health_check', 'external']);
    const step = recoveryPlansById(config).get('database-recovery')?.steps[0];
    expect(step?.type === 'wait' && step.duration).toBe(2 * MIN);
  });

  it.each([
    ['a misspelt dependsOn', { recoveryPlans: { p: { steps: [{ id: 'a', type: 'command', command: 'true', dependson: ['b'] }] } } }, 'recoveryPlans.p.steps[0].dependson', /did you mean 'dependsOn'/],
    ['an unknown step type', { recoveryPlans: { p: { steps: [{ id: 'a', type: 'sqll', query: 'SELECT 1' }] } } }, 'recoveryPlans.p.steps[0].type', /must be one of .*sql.*\(got 'sqll'\)/],
    ['an unknown severity', { scenarios: [{ ...briefScenarios[0], severity: 'urgent' }] }, 'scenarios[0].severity', /must be one of critical, high, medium, low \(got 'urgent'\)/],
    ['an unknown trigger type', { scenarios: [{ ...briefScenarios[2], triggers: [{ type: 'logs', condition: 'x' }] }] }, 'scenarios[0].triggers[0].type', /got 'logs'/],
    ['a misspelt field in a record scenario', { scenarios: { s: { ...briefScenarios[2], id: undefined, recoveryPlan: 'x' } } }, 'scenarios.s.recoveryPlan', /did you mean 'recoveryPlans'/],
    [
      'a misspelt field of a rollback',
      { recoveryPlans: { p: { steps: [{ id: 'a', type: 'command', command: 'x', rollback: { type: 'command', comand: 'y' } }] } } },
      'recoveryPlans.p.steps[0].rollback.comand',
      /did you mean 'command'/,
    ],
    [
      'a misspelt test override',
      { recoveryPlans: { p: { steps: [{ id: 'a', type: 'restore', source: 'database', test: { taget: '/tmp' } }] } } },
      'recoveryPlans.p.steps[0].test.taget',
      /did you mean 'target'/,
    ],
    ['a bad duration', { scenarios: [{ ...briefScenarios[2], rto: '2 hours' }] }, 'scenarios[0].rto', /minutes as a number/],
    ['a sql step without source or url', { recoveryPlans: { p: { steps: [{ id: 'a', type: 'sql', query: 'SELECT 1' }] } } }, 'recoveryPlans.p.steps[0].source', /source .* or url/],
    ['a misspelt KPI', { kpiThresholds: { backupSuccessRate: { warning: 1 } } }, 'kpiThresholds.backupSuccessRate', /unknown key/],
    ['a token without a file', { serve: { tokens: [{ name: 'x', role: 'read' }] } }, 'serve.tokens[0].tokenFile', /tokenFile or token/],
    ['a bad drTest type', { drTests: { q: { type: 'smoke', scenarios: ['x'] } } }, 'drTests.q.type', /got 'smoke'/],
  ])('names the field path for %s', (_what, extra, path, message) => {
    const issues = issuesOf({ ...minimal, ...extra });
    const issue = issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue!.message).toMatch(message);
  });

  it('reads durations: numbers are minutes, strings take units; the output is milliseconds', () => {
    expect(parseDrDuration(30)).toBe(30 * MIN);
    expect(parseDrDuration('30')).toBe(30 * MIN);
    expect(parseDrDuration('30s')).toBe(30_000);
    expect(parseDrDuration('5m')).toBe(5 * MIN);
    expect(parseDrDuration('1h30m')).toBe(90 * MIN);
    expect(parseDrDuration('500ms')).toBe(500);
    expect(parseDrDuration('soon')).toBeUndefined();
    expect(parseDrDuration(-1)).toBeUndefined();
    expect(minutesOrDuration.parse(0.5)).toBe(30_000);
  });
});

describe('DR configuration: values of the wrong shape', () => {
  it.each([
    ['scenarios', { scenarios: 5 }, 'scenarios', /must be an array or a record \(got 5\)/],
    ['a test override', { recoveryPlans: { p: { steps: [{ id: 'a', type: 'command', command: 'x', test: 'skp' }] } } }, 'recoveryPlans.p.steps[0].test', /must be 'skip' or an object \(got 'skp'\)/],
    ['a duration', { scenarios: [{ ...briefScenarios[0], rpo: true }] }, 'scenarios[0].rpo', /must be a number or a string \(got true\)/],
  ])('says what %s may be', (_what, extra, path, message) => {
    const issues = issuesOf({ ...minimal, ...extra });
    const issue = issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue!.message).toMatch(message);
  });
});
