import { describe, expect, it } from 'vitest';
import { checkDrReferences, type DrReferencesConfig } from '../../src/config/dr-references.js';
import type { ConfigIssue } from '../../src/config/validation-error.js';

const step = (id: string, dependsOn?: string[]) => ({ id, type: 'command', command: `run ${id}`, ...(dependsOn ? { dependsOn } : {}) });

/** CLI.md's example, which has no problem. */
const recoveryPlans = {
  'database-recovery': { steps: [step('restore'), step('start', ['restore']), step('check', ['start']), step('approve'), step('notify', ['check'])] },
  'cache-rebuild': { steps: [step('flush'), step('warm', ['flush'])] },
};
const scenario = (plans: unknown[]) => ({ id: 'db-failure', rto: 30, recoveryPlans: plans });
const example = scenario([
  { planId: 'database-recovery', priority: 1 },
  { planId: 'cache-rebuild', priority: 2, dependsOn: ['database-recovery'] },
]);

describe('checkDrReferences accepts well-formed references', () => {
  it.each<[string, DrReferencesConfig]>([
    ["CLI.md's example", { scenarios: [example], recoveryPlans }],
    ['plans listed as plain ids', { scenarios: [scenario(['cache-rebuild', 'database-recovery'])], recoveryPlans }],
    ['scenarios as a record and plans as a list', { scenarios: { 'db-failure': example }, recoveryPlans: Object.entries(recoveryPlans).map(([id, plan]) => ({ id, ...plan })) }],
    ['a diamond of steps', { recoveryPlans: { d: { steps: [step('root'), step('left', ['root']), step('right', ['root']), step('join', ['left', 'right'])] } } }],
    ['no DR config at all', {}],
  ])('%s', (_case, config) => {
    expect(checkDrReferences(config)).toEqual([]);
  });
});

describe('checkDrReferences names the steps and plans of every cycle and unknown id, with their paths', () => {
  it.each<[string, DrReferencesConfig, ConfigIssue[]]>([
    ['a step depending on itself', { recoveryPlans: { p: { steps: [step('a'), step('b', ['b'])] } } }, [{ path: 'recoveryPlans.p.steps[1].dependsOn', message: 'steps b → b of plan p form a cycle' }]],
    [
      'two steps depending on each other',
      { recoveryPlans: { 'database-recovery': { steps: [step('restore'), step('start', ['restore', 'check']), step('check', ['start'])] } } },
      [{ path: 'recoveryPlans.database-recovery.steps[1].dependsOn', message: 'steps start → check → start of plan database-recovery form a cycle' }],
    ],
    [
      'three steps around a cycle',
      { recoveryPlans: { p: { steps: [step('a', ['c']), step('b', ['a']), step('c', ['b'])] } } },
      [{ path: 'recoveryPlans.p.steps[0].dependsOn', message: 'steps a → b → c → a of plan p form a cycle' }],
    ],
    [
      'a step depending on a step its plan does not have',
      { recoveryPlans: { 'database-recovery': { steps: [step('restore'), step('start', ['restore']), step('check', ['strat'])] } } },
      [{ path: 'recoveryPlans.database-recovery.steps[2].dependsOn', message: "step check depends on 'strat', which plan database-recovery does not have (did you mean 'start'?)" }],
    ],
    [
      'a step id used twice, at the second use',
      { recoveryPlans: [{ id: 'p', steps: [step('a'), step('b'), step('a')] }] },
      [{ path: 'recoveryPlans[0].steps[2].id', message: 'step id a is used more than once in plan p' }],
    ],
    [
      // The brief's scenarios name plans an application registers itself: not a config error.
      'a scenario listing a plan the config does not define',
      { scenarios: [scenario(['database-recovery', 'cache-rebiuld'])], recoveryPlans },
      [],
    ],
    ['a plan entry naming an undefined plan', { scenarios: { 'db-failure': scenario([{ planId: 'dns-switch' }]) }, recoveryPlans }, []],
    [
      'a plan depending on a plan the scenario does not list',
      { scenarios: [scenario(['database-recovery', { planId: 'cache-rebuild', dependsOn: ['db-recovery'] }])], recoveryPlans },
      [{ path: 'scenarios[0].recoveryPlans[1].dependsOn', message: "plan cache-rebuild depends on 'db-recovery', which the scenario does not list" }],
    ],
    [
      'plans depending on each other',
      {
        scenarios: [
          example,
          scenario([
            { planId: 'database-recovery', dependsOn: ['cache-rebuild'] },
            { planId: 'cache-rebuild', dependsOn: ['database-recovery'] },
          ]),
        ],
        recoveryPlans,
      },
      [{ path: 'scenarios[1].recoveryPlans[0].dependsOn', message: 'plans database-recovery → cache-rebuild → database-recovery form a cycle' }],
    ],
    [
      'a plan listed twice',
      { scenarios: [scenario(['cache-rebuild', { planId: 'cache-rebuild' }])], recoveryPlans },
      [{ path: 'scenarios[0].recoveryPlans[1].planId', message: 'plan cache-rebuild is listed more than once' }],
    ],
    [
      'every problem of the config at once',
      {
        scenarios: [scenario(['q', { planId: 'p', dependsOn: ['p'] }])],
        recoveryPlans: { p: { steps: [step('a', ['x'])] }, r: { steps: [step('a', ['b']), step('b', ['a'])] } },
      },
      [
        { path: 'recoveryPlans.p.steps[0].dependsOn', message: "step a depends on 'x', which plan p does not have" },
        { path: 'recoveryPlans.r.steps[0].dependsOn', message: 'steps a → b → a of plan r form a cycle' },
        { path: 'scenarios[0].recoveryPlans[1].dependsOn', message: 'plans p → p form a cycle' },
      ],
    ],
  ])('%s', (_case, config, issues) => {
    expect(checkDrReferences(config)).toEqual(issues);
  });
});

describe('bkdr config validate with disaster-recovery references', () => {
  it('fails with exit 2 naming the steps of a cycle and an unknown plan, and passes once they are fixed', async () => {
    const { makeTempDir, runBkdr } = await import('../helpers/cli.js');
    const { writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const tmp = await makeTempDir('bkdr-dr-refs-');
    try {
      const config = (steps: unknown[], plans: unknown[]) => ({
        sources: { files: { type: 'files', paths: [tmp.path] } },
        destinations: [{ type: 'local', config: { path: join(tmp.path, 'repo') } }],
        scenarios: [{ id: 'db-failure', name: 'Database failure', severity: 'critical', rto: 30, rpo: 5, affectedSystems: ['database'], triggers: [], recoveryPlans: plans }],
        recoveryPlans: { 'database-recovery': { steps } },
      });
      const file = join(tmp.path, 'backup.config.json');
      await writeFile(
        file,
        JSON.stringify(
          config(
            [
              { id: 'start', type: 'command', command: 'true', dependsOn: ['check'] },
              { id: 'check', type: 'command', command: 'true', dependsOn: ['start'] },
            ],
            ['database-recovery', 'cache-rebuild'],
          ),
        ),
      );
      const broken = await runBkdr(['-c', file, 'config', 'validate']);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/start → check → start/);
      expect(broken.stderr).toMatch(/recoveryPlans\.database-recovery\.steps\[0\]\.dependsOn/);

      await writeFile(
        file,
        JSON.stringify(
          config(
            [
              { id: 'start', type: 'command', command: 'true' },
              { id: 'check', type: 'command', command: 'true', dependsOn: ['start'] },
            ],
            ['database-recovery'],
          ),
        ),
      );
      const fixed = await runBkdr(['-c', file, 'config', 'validate']);
      expect(fixed.code, fixed.stderr).toBe(0);
    } finally {
      await tmp.cleanup();
    }
  });
});
