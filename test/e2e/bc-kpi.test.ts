import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace, runBkdr } from '../helpers/cli.js';

// Runs the built CLI: `npm run build` first.

interface KpiJson {
  name: string;
  value: number | null;
  unit: string;
  target: number;
  warning: number;
  critical: number;
  status: 'ok' | 'warning' | 'critical' | 'no-data';
}

const NO_DATA_HERE = ['system_availability', 'mean_time_to_recovery', 'recovery_time_achieved', 'recovery_point_achieved', 'dr_test_success_rate', 'compliance_score', 'verify_coverage'];

describe('bkdr bc kpi', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-bc-kpi-');
  });

  afterAll(async () => {
    await tmp?.cleanup();
  });

  async function workspace(name: string, extra: Record<string, unknown> = {}) {
    const dir = join(tmp.path, name);
    const data = join(dir, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'a.txt'), `data of ${name}\n`);
    // `unreachable` is a local destination whose path is a FILE: its repository can never be created.
    const notADir = join(dir, 'not-a-dir');
    await writeFile(notADir, 'a file where a repository should go\n');
    return makeWorkspace(dir, [data], {
      destinations: [
        { name: 'local', type: 'local', config: { path: join(dir, 'repo') } },
        { name: 'unreachable', type: 'local', config: { path: notADir } },
      ],
      ...extra,
    });
  }

  it('--check exits 6 naming backup_success_rate when runs against an unreachable destination push it under the critical threshold', async () => {
    const ws = await workspace('failing');
    expect((await ws.run(['backup', 'run', '--destination', 'local'])).code).toBe(0);
    for (let i = 0; i < 2; i++) expect((await ws.run(['backup', 'run', '--destination', 'unreachable'])).code).toBe(1);

    // 1 of 3 runs succeeded: 33.3 %, under the default critical of 95 %.
    const check = await ws.run(['bc', 'kpi', '--check']);
    expect(check.code).toBe(6);
    expect(check.stdout).toMatch(/backup_success_rate\s+│\s+33\.3 %\s+│.*│\s+critical\s+│ 1 of 3 backup runs in 30 days succeeded/);
    expect(check.stdout).toMatch(/no data \(not counted as met\): system_availability/);
    const errorLines = check.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('bkdr: '));
    expect(errorLines).toEqual(['bkdr: critical KPIs: backup_success_rate 33.3 % (critical below 95 %)']);

    const json = await ws.run(['--json', 'bc', 'kpi', '--check']);
    expect(json.code).toBe(6);
    const { kpis } = JSON.parse(json.stdout) as { kpis: KpiJson[] };
    expect(kpis.find((k) => k.name === 'backup_success_rate')).toMatchObject({ value: expect.closeTo(100 / 3, 10) as unknown, unit: '%', warning: 99.5, critical: 95, status: 'critical' });

    // Without --check the same KPIs print and the command succeeds: only --check alerts.
    expect((await ws.run(['bc', 'kpi'])).code).toBe(0);

    // The same records against kpiThresholds that 33.3 % meets (above critical, under warning): exit 0.
    const lenient = join(tmp.path, 'failing', 'lenient.config.json');
    const base = JSON.parse(await readFile(ws.config, 'utf8')) as Record<string, unknown>;
    await writeFile(lenient, JSON.stringify({ ...base, kpiThresholds: { backup_success_rate: { warning: 40, critical: 30 } } }));
    const met = await runBkdr(['-c', lenient, '--json', 'bc', 'kpi', '--check'], { cwd: tmp.path, env: ws.env });
    expect(met.code).toBe(0);
    expect((JSON.parse(met.stdout) as { kpis: KpiJson[] }).kpis.find((k) => k.name === 'backup_success_rate')).toMatchObject({ warning: 40, critical: 30, status: 'warning' });
  });

  it('--check exits 0 when the thresholds of the KPIs with data are met; no-data KPIs never count as met', async () => {
    const ws = await workspace('healthy', { kpiThresholds: { backup_success_rate: { warning: 99, critical: 95 }, hours_since_last_backup: { warning: 24, critical: 48 } } });
    for (let i = 0; i < 2; i++) expect((await ws.run(['backup', 'run', '--destination', 'local'])).code).toBe(0);

    const check = await ws.run(['--json', 'bc', 'kpi', '--check']);
    expect(check.code).toBe(0);
    const { kpis } = JSON.parse(check.stdout) as { kpis: KpiJson[] };
    expect(kpis.find((k) => k.name === 'backup_success_rate')).toMatchObject({ value: 100, status: 'ok', warning: 99, critical: 95 });
    expect(kpis.find((k) => k.name === 'hours_since_last_backup')).toMatchObject({ unit: 'hours', status: 'ok' });
    // Nothing measured them: no value, `no-data`, never `ok` or 100 %.
    for (const name of NO_DATA_HERE)
      expect(
        kpis.find((k) => k.name === name),
        name,
      ).toMatchObject({ value: null, status: 'no-data' });
    expect(check.stderr).toMatch(/7 KPIs have no data: not counted as met, and not failing --check/);

    const table = await ws.run(['bc', 'kpi', '--check']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/compliance_score\s+│ -\s+│.*│ no-data\s+│ no assessment yet/);
  });
});
