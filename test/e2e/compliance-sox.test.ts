import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

interface Assessment {
  id: string;
  framework: string;
  overallCompliance: number;
  controls: { id: string; status: string; evidence: Record<string, unknown>; detail: string }[];
  findings: { controlId: string; severity: string; dueDate: string }[];
  resolvedFindings: { controlId: string }[];
}

/**
 * SOX assessed from what bkdr itself recorded, through the CLI: real backups, a real
 * verify, a real test restore. BR-04 (restores are tested) fails on a fresh repository
 * and passes after `backup verify --test-restore`, and the score rises by exactly one
 * control's share; the finding it opened is resolved by the next assessment.
 */
describe('compliance assess SOX from real records', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-sox-');
    await mkdir(join(tmp.path, 'data', 'ledger'), { recursive: true });
    await writeFile(join(tmp.path, 'data', 'ledger', '2026-12.csv'), 'account,amount\n4711,120.50\n');
    ws = await makeWorkspace(tmp.path, [join(tmp.path, 'data')]);
  });
  afterAll(() => tmp?.cleanup());

  const assess = async (): Promise<Assessment> => {
    const r = await ws.run(['--json', 'compliance', 'assess', 'SOX', '--assessor', 'External Auditor']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Assessment;
  };
  const control = (a: Assessment, id: string) => a.controls.find((c) => c.id === id)!;

  it('scores what was recorded, flips BR-04 with a test restore, and resolves its finding', async () => {
    for (let i = 0; i < 2; i++) expect((await ws.run(['backup', 'run'])).code).toBe(0);
    expect((await ws.run(['backup', 'verify'])).code).toBe(0);

    const before = await assess();
    // By hand: no system is tagged sox, so BR-01, BR-05 and BR-06 do not apply; of the five that do,
    // BR-02 (2 of 2 runs succeeded), BR-03 (a clean verify of `local` today), BR-07 (an intact chain)
    // and BR-08 (nothing destructive) pass and BR-04 fails: 4 / 5 = 80 %.
    expect(control(before, 'BR-02')).toMatchObject({ status: 'pass', evidence: { runs: 2, succeeded: 2, successPercent: 100 } });
    expect(control(before, 'BR-03').status).toBe('pass');
    expect(control(before, 'BR-04')).toMatchObject({ status: 'fail', evidence: { successfulTestRestores: 0 } });
    expect(['BR-01', 'BR-05', 'BR-06'].map((id) => control(before, id).status)).toEqual(['not-applicable', 'not-applicable', 'not-applicable']);
    expect(before.overallCompliance).toBe(80);
    expect(before.findings).toEqual([expect.objectContaining({ controlId: 'BR-04', severity: 'high' })]);

    const verify = await ws.run(['backup', 'verify', '--test-restore']);
    expect(verify.code, verify.stderr).toBe(0);
    const after = await assess();
    expect(control(after, 'BR-04')).toMatchObject({ status: 'pass', evidence: { successfulTestRestores: 1 } });
    expect(after.overallCompliance - before.overallCompliance).toBe(100 / 5);
    expect(after.findings).toEqual([]);
    expect(after.resolvedFindings.map((f) => f.controlId)).toEqual(['BR-04']);

    const list = JSON.parse((await ws.run(['--json', 'compliance', 'list', '--framework', 'SOX'])).stdout) as Assessment[];
    expect(list.map((a) => a.overallCompliance)).toEqual([100, 80]);
    const audit = JSON.parse((await ws.run(['--json', 'audit', 'list'])).stdout) as { action: string }[];
    expect(audit.filter((a) => a.action === 'compliance.assess')).toHaveLength(2);
  }, 60_000);

  it('names an unknown framework or scope in one line, exit 2', async () => {
    const framework = await ws.run(['compliance', 'assess', 'PCI']);
    expect(framework.code).toBe(2);
    expect(framework.stderr.trim()).toMatch(/^bkdr: no framework PCI; available: SOX/);
    const scope = await ws.run(['compliance', 'assess', 'SOX', '--scope', 'finance']);
    expect(scope.code).toBe(2);
    expect(scope.stderr.trim()).toMatch(/unknown scope finance; areas: backup, recovery/);
  });
});
