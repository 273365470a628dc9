import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

interface Assessment {
  framework: string;
  overallCompliance: number;
  controls: { id: string; status: string; evidence: Record<string, unknown> }[];
}

/**
 * Every framework assessed through the CLI from records real runs left: backups, a
 * verify with a test restore, a DR test of the scenario. For one control of each, the
 * test states the values a person computes by hand from those same records.
 */
describe('compliance assess: one hand-checked control per framework, from real runs', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  const today = new Date().toISOString().slice(0, 10);

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-frameworks-');
    await mkdir(join(tmp.path, 'data'), { recursive: true });
    await writeFile(join(tmp.path, 'data', 'customers.csv'), 'id,name\n1,Ada\n');
    await writeFile(join(tmp.path, 'password'), 'test-password\n');
    ws = await makeWorkspace(tmp.path, [join(tmp.path, 'data')], {
      encryption: { passwordFile: join(tmp.path, 'password') },
      schedule: { type: 'cron', expression: '*/30 * * * *' },
      systems: [{ name: 'crm', criticality: 'critical', rto: '30m', rpo: '1h', mtpd: '4h', sources: ['files'], scenarios: ['crm-lost'], personalData: true, tags: ['sox'], reviewedAt: today }],
      scenarios: [{ id: 'crm-lost', name: 'CRM data lost', severity: 'critical', rto: 30, rpo: 60, affectedSystems: ['crm'], triggers: [], recoveryPlans: ['restore-crm'] }],
      recoveryPlans: {
        'restore-crm': {
          owner: 'ops',
          steps: [
            { id: 'restore', type: 'restore', source: 'files', target: join(tmp.path, 'restored'), verify: true },
            { id: 'check', type: 'command', command: 'true', dependsOn: ['restore'] },
            { id: 'tell', type: 'notify', command: 'true', message: 'crm restored', dependsOn: ['check'] },
          ],
        },
      },
    });
    for (let i = 0; i < 3; i++) expect((await ws.run(['backup', 'run'])).code).toBe(0);
    expect((await ws.run(['backup', 'verify', '--test-restore'])).code).toBe(0);
    const test = await ws.run(['dr', 'test', 'crm-lost', '--type', 'e2e']);
    expect(test.code, test.stdout + test.stderr).toBe(0);
  }, 60_000);
  afterAll(() => tmp?.cleanup());

  const assess = async (framework: string): Promise<Assessment> => {
    const r = await ws.run(['--json', 'compliance', 'assess', framework, '--assessor', 'External Auditor']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Assessment;
  };
  const control = (a: Assessment, id: string) => a.controls.find((c) => c.id === id)!;

  it('SOX BR-02: 3 backup runs, 3 succeeded, 100 %', async () => {
    expect(control(await assess('SOX'), 'BR-02')).toMatchObject({ status: 'pass', evidence: { runs: 3, succeeded: 3, successPercent: 100 } });
  });

  it('ISO 22301 8.5: the one critical scenario, crm-lost, was DR-tested today and succeeded', async () => {
    const c = control(await assess('ISO-22301'), '8.5');
    expect(c.status).toBe('pass');
    expect(c.evidence).toMatchObject({ withinDays: 90, stale: [], lastTest: [{ scenario: 'crm-lost', status: 'succeeded' }] });
    expect(String((c.evidence['lastTest'] as { lastTestAt: string }[])[0]!.lastTestAt).slice(0, 10)).toBe(today);
  });

  it('NIST CSF PR.DS-01: the one destination, local, is encrypted', async () => {
    expect(control(await assess('NIST-CSF'), 'PR.DS-01')).toMatchObject({ status: 'pass', evidence: { destinations: [{ name: 'local', encrypted: true }] } });
  });

  it('GDPR 32(1)(a): crm holds personal data; its source files is backed up only to local, which is encrypted', async () => {
    expect(control(await assess('GDPR'), '32(1)(a)')).toMatchObject({
      status: 'pass',
      evidence: { systems: ['crm'], sources: ['files'], destinations: [{ name: 'local', encrypted: true }] },
    });
  });
});
