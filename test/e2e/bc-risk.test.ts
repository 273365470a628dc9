import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

/** The risk register through the built CLI (CLI.md `bkdr bc risk`): config risks beside those added, exit codes. */

interface RiskJson {
  id: string;
  source: string;
  status: string;
  likelihood: number | null;
  levelName: string | null;
  residualLevelName: string | null;
  reviewOverdue: boolean;
  mitigations: string[];
}

describe('bkdr bc risk', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-bc-risk-');
    ws = await makeWorkspace(tmp.path, [tmp.path], {
      risks: [{ id: 'R-1', title: 'Ransomware', likelihood: 3, impact: 5, owner: 'security', treatment: 'mitigate', mitigations: ['offsite encrypted copies'], reviewBy: '2020-06-30' }],
    });
  });
  afterEach(() => tmp.cleanup());

  it('adds, lists, updates and closes a risk beside the config risks', async () => {
    const add = await ws.run(['bc', 'risk', 'add', '--title', 'Region outage', '--likelihood', '2', '--impact', '4', '--mitigation', 'replica', '--residual-likelihood', '1', '--json']);
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ id: 'R-2', source: 'catalog', levelName: 'medium', residualLevelName: 'low' });

    const list = await ws.run(['bc', 'risk', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as RiskJson[]).map((r) => [r.id, r.source, r.levelName, r.reviewOverdue])).toEqual([
      ['R-1', 'config', 'high', true],
      ['R-2', 'catalog', 'medium', false],
    ]);

    const update = await ws.run(['bc', 'risk', 'update', 'R-2', '--likelihood', '5', '--mitigation', 'second region', '--json']);
    expect(update.code, update.stderr).toBe(0);
    expect(JSON.parse(update.stdout)).toMatchObject({ likelihood: 5, levelName: 'very high', mitigations: ['second region'] });

    const refused = await ws.run(['bc', 'risk', 'update', 'R-1', '--likelihood', '1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe('bkdr: risk R-1 is defined in the config; edit the config to change it');

    const close = await ws.run(['bc', 'risk', 'close', 'R-2', '--reason', 'moved to a multi-region service']);
    expect(close.code, close.stderr).toBe(0);

    const human = await ws.run(['bc', 'risk', 'list']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/R-2 .*Region outage.*closed/);
    expect(human.stdout).toMatch(/2020-06-30 OVERDUE/);
    const after = JSON.parse((await ws.run(['bc', 'risk', 'list', '--json'])).stdout) as RiskJson[];
    expect(after.map((r) => [r.id, r.status])).toEqual([
      ['R-1', 'open'],
      ['R-2', 'closed'],
    ]);

    const audit = await ws.run(['audit', 'verify']);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
  });

  it('exits 2 with one line for a likelihood outside 1–5, adding nothing', async () => {
    const bad = await ws.run(['bc', 'risk', 'add', '--title', 'x', '--likelihood', '7']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['bkdr: --likelihood must be an integer from 1 to 5, not 7']);
    const list = JSON.parse((await ws.run(['bc', 'risk', 'list', '--json'])).stdout) as RiskJson[];
    expect(list.map((r) => r.id)).toEqual(['R-1']);
  });
});
