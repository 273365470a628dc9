import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

/**
 * `bkdr bc bia` through the built CLI (CLI.md: `{ systems: [{ name, criticality, rto,
 * rpo, mtpd, effectiveRto, achievedRto, issues }] }`, durations in seconds). A report
 * exits 0 whatever it finds; `--check` exits 6 when a critical system has an issue.
 */

interface BiaJson {
  systems: { name: string; criticality: string | null; rto: number | null; rpo: number | null; mtpd: number | null; effectiveRto: number | null; achievedRto: number | null; issues: string[] }[];
}

describe('bc bia through the CLI', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-bia-e2e-');
    ws = await makeWorkspace(tmp.path, [tmp.path], {
      schedule: { type: 'interval', expression: '3600000' },
      systems: [
        // RTO 4 h against an MTPD of 2 h.
        { name: 'billing', criticality: 'high', rto: '4h', rpo: '1d', mtpd: '2h', sources: ['files'] },
        // RTO 30 min, but the database it needs has an RTO of 2 h.
        { name: 'web', criticality: 'critical', rto: 30, rpo: '1d', mtpd: '8h', sources: ['files'], dependencies: ['database'] },
        { name: 'database', criticality: 'medium', rto: '2h', rpo: '1d', mtpd: '8h', sources: ['files'] },
      ],
    });
  });
  afterAll(() => tmp.cleanup());

  it('--json flags the RTO above the MTPD and the dependency with the longer RTO, in seconds, and exits 0', async () => {
    const r = await ws.run(['--json', 'bc', 'bia']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const bia = JSON.parse(r.stdout) as BiaJson;
    expect(bia.systems.map((s) => s.name)).toEqual(['billing', 'web', 'database']);
    const [billing, web, database] = bia.systems;
    expect(billing).toMatchObject({ criticality: 'high', rto: 14_400, rpo: 86_400, mtpd: 7_200, effectiveRto: 14_400, achievedRto: null });
    expect(billing!.issues).toEqual(['RTO 4h00m exceeds the MTPD 2h00m: the business cannot wait for this recovery']);
    expect(web).toMatchObject({ criticality: 'critical', rto: 1_800, effectiveRto: 7_200, achievedRto: null });
    expect(web!.issues).toContain('effective RTO 2h00m exceeds its RTO 30m00s: dependency database has an RTO of 2h00m');
    expect(database!.issues).toEqual([]);
  });

  it('prints a table for people', async () => {
    const r = await ws.run(['bc', 'bia']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/effective RTO/);
    expect(r.stdout).toMatch(/billing/);
    expect(r.stdout).toMatch(/2 of 3 systems with issues/);
  });

  it('--check exits 6 when a critical system has an issue', async () => {
    const r = await ws.run(['bc', 'bia', '--check']);
    expect(r.code).toBe(6);
    // web: the dependency's longer RTO, and no DR scenario.
    expect(r.stderr).toMatch(/1 critical system with 2 issues: web/);
  });

  it('--check exits 0 when only systems that are not critical have issues', async () => {
    await mkdir(join(tmp.path, 'calm'));
    const calm = await makeWorkspace(join(tmp.path, 'calm'), [tmp.path], {
      schedule: { type: 'interval', expression: '3600000' },
      systems: [{ name: 'billing', criticality: 'high', rto: '4h', rpo: '1d', mtpd: '2h', sources: ['files'] }],
    });
    const r = await calm.run(['bc', 'bia', '--check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
