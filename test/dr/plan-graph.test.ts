import { describe, expect, it } from 'vitest';
import type { NodeState } from '../../src/core/dag.js';
import { UsageError } from '../../src/core/errors.js';
import { buildPlanGraph, nextSteps, PlanGraphError, type RecoveryPlansConfig, type ScenarioConfig, type StepConfig } from '../../src/dr/plan-graph.js';

const step = (id: string, dependsOn?: string[]): StepConfig => ({ id, type: 'command', command: `run ${id}`, ...(dependsOn ? { dependsOn } : {}) });

/** CLI.md's example plans. */
const plans: RecoveryPlansConfig = {
  'database-recovery': { steps: [step('restore'), step('start', ['restore']), step('check', ['start']), step('approve'), step('notify', ['check'])] },
  'cache-rebuild': { steps: [step('flush'), step('warm', ['flush'])] },
  'dns-switch': { steps: [step('switch')] },
  diamond: { steps: [step('root'), step('left', ['root']), step('right', ['root']), step('join', ['left', 'right'])] },
};

const scenario = (recoveryPlans: ScenarioConfig['recoveryPlans']): ScenarioConfig => ({ id: 'db-failure', recoveryPlans });

describe('buildPlanGraph turns a scenario into one DAG over its steps', () => {
  it.each<[string, ScenarioConfig, RecoveryPlansConfig, string[]]>([
    ['a linear plan runs in step order, ids qualified by plan', scenario(['cache-rebuild']), plans, ['cache-rebuild/flush', 'cache-rebuild/warm']],
    ['a diamond runs the root, both middles, then the join', scenario(['diamond']), plans, ['diamond/root', 'diamond/left', 'diamond/right', 'diamond/join']],
    ['independent plans listed as plain ids are ordered by position', scenario(['dns-switch', 'cache-rebuild']), plans, ['dns-switch/switch', 'cache-rebuild/flush', 'cache-rebuild/warm']],
    [
      'independent plans are ordered by priority, lower first, whatever their position',
      scenario([
        { planId: 'cache-rebuild', priority: 2 },
        { planId: 'dns-switch', priority: 1 },
      ]),
      plans,
      ['dns-switch/switch', 'cache-rebuild/flush', 'cache-rebuild/warm'],
    ],
    [
      'a plan that depends on another starts after all of its leaf steps',
      scenario([
        { planId: 'cache-rebuild', priority: 1, dependsOn: ['database-recovery'] },
        { planId: 'database-recovery', priority: 2 },
      ]),
      plans,
      ['database-recovery/restore', 'database-recovery/start', 'database-recovery/check', 'database-recovery/approve', 'database-recovery/notify', 'cache-rebuild/flush', 'cache-rebuild/warm'],
    ],
    ['the recoveryPlans config may be a list of plans with ids', scenario(['p']), [{ id: 'p', steps: [step('b', ['a']), step('a')] }], ['p/a', 'p/b']],
  ])('%s', (_case, sc, recoveryPlans, order) => {
    expect(buildPlanGraph(sc, recoveryPlans).steps.map((s) => s.id)).toEqual(order);
  });

  it('makes every root step of a dependent plan wait for every leaf step of its prerequisites', () => {
    const graph = buildPlanGraph(
      scenario([
        { planId: 'database-recovery', priority: 1 },
        { planId: 'dns-switch', priority: 1 },
        { planId: 'cache-rebuild', priority: 2, dependsOn: ['database-recovery', 'dns-switch'] },
      ]),
      plans,
    );
    const byId = new Map(graph.steps.map((s) => [s.id, s]));
    expect(byId.get('cache-rebuild/flush')?.dependsOn).toEqual(['database-recovery/approve', 'database-recovery/notify', 'dns-switch/switch']);
    expect(byId.get('cache-rebuild/warm')?.dependsOn).toEqual(['cache-rebuild/flush']);
    expect(byId.get('database-recovery/start')?.dependsOn).toEqual(['database-recovery/restore']);
  });
});

describe('buildPlanGraph rejects cycles and unknown ids, naming the scenario, the plan and the steps', () => {
  it.each<[string, ScenarioConfig, RecoveryPlansConfig, string]>([
    ['a step depending on itself', scenario(['p']), { p: { steps: [step('a', ['a'])] } }, 'scenario db-failure: plan p: steps a → a form a cycle'],
    [
      'two steps depending on each other',
      scenario(['database-recovery']),
      { 'database-recovery': { steps: [step('start', ['check']), step('check', ['start'])] } },
      'scenario db-failure: plan database-recovery: steps start → check → start form a cycle',
    ],
    ['three steps around a cycle', scenario(['p']), { p: { steps: [step('a', ['c']), step('b', ['a']), step('c', ['b'])] } }, 'scenario db-failure: plan p: steps a → b → c → a form a cycle'],
    [
      'a step depending on a step its plan does not have',
      scenario(['database-recovery']),
      { 'database-recovery': { steps: [step('start'), step('check', ['strat'])] } },
      "scenario db-failure: plan database-recovery: step check depends on 'strat', which plan database-recovery does not have (did you mean 'start'?)",
    ],
    [
      'a step depending on a step of another plan',
      scenario(['database-recovery', 'cache-rebuild']),
      { ...plans, 'cache-rebuild': { steps: [step('flush', ['restore'])] } },
      "scenario db-failure: plan cache-rebuild: step flush depends on 'restore', which plan cache-rebuild does not have",
    ],
    ['a step id used twice', scenario(['p']), { p: { steps: [step('a'), step('a')] } }, 'scenario db-failure: plan p: step id a is used more than once'],
    [
      'a plan depending on a plan the scenario does not list',
      scenario(['database-recovery', { planId: 'cache-rebuild', dependsOn: ['db-recovery'] }]),
      plans,
      "scenario db-failure: plan cache-rebuild depends on 'db-recovery', which the scenario does not list",
    ],
    [
      'a plan the config does not define',
      scenario(['database-recovery', 'cache-rebiuld']),
      plans,
      "scenario db-failure: plan cache-rebiuld is not defined in recoveryPlans (did you mean 'cache-rebuild'?)",
    ],
    [
      'plans depending on each other',
      scenario([
        { planId: 'database-recovery', dependsOn: ['cache-rebuild'] },
        { planId: 'cache-rebuild', dependsOn: ['database-recovery'] },
      ]),
      plans,
      'scenario db-failure: plans database-recovery → cache-rebuild → database-recovery form a cycle',
    ],
    ['a plan listed twice', scenario(['dns-switch', 'dns-switch']), plans, 'scenario db-failure: plan dns-switch is listed more than once'],
    ['no plans at all', scenario([]), plans, 'scenario db-failure: lists no recovery plans'],
    [
      'several problems at once',
      scenario(['p', 'missing']),
      { p: { steps: [step('a', ['b']), step('b', ['a', 'x'])] } },
      "scenario db-failure: plan missing is not defined in recoveryPlans; scenario db-failure: plan p: step b depends on 'x', which plan p does not have; scenario db-failure: plan p: steps a → b → a form a cycle",
    ],
  ])('%s', (_case, sc, recoveryPlans, message) => {
    let error: unknown;
    try {
      buildPlanGraph(sc, recoveryPlans);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PlanGraphError);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as PlanGraphError).message).toBe(message);
    expect((error as PlanGraphError).scenarioId).toBe('db-failure');
  });
});

describe('nextSteps yields the steps that may start now', () => {
  const graph = buildPlanGraph(scenario(['diamond', { planId: 'dns-switch', dependsOn: ['diamond'] }]), plans);
  it.each<[string, Record<string, NodeState>, string[]]>([
    ['at the start only the root', {}, ['diamond/root']],
    ['both middles, in parallel, once the root succeeded', { 'diamond/root': 'succeeded' }, ['diamond/left', 'diamond/right']],
    ['not the join while a middle runs', { 'diamond/root': 'succeeded', 'diamond/left': 'succeeded', 'diamond/right': 'running' }, []],
    ['not the join when a middle failed', { 'diamond/root': 'succeeded', 'diamond/left': 'failed', 'diamond/right': 'succeeded' }, []],
    ['the join once both middles succeeded', { 'diamond/root': 'succeeded', 'diamond/left': 'succeeded', 'diamond/right': 'succeeded' }, ['diamond/join']],
    [
      'the dependent plan once the prerequisite plan finished',
      { 'diamond/root': 'succeeded', 'diamond/left': 'succeeded', 'diamond/right': 'succeeded', 'diamond/join': 'succeeded' },
      ['dns-switch/switch'],
    ],
  ])('%s', (_case, states, ready) => {
    expect(nextSteps(graph, states).map((s) => s.id)).toEqual(ready);
  });

  it('hands back each step with its plan and config', () => {
    const [first] = nextSteps(graph, {});
    expect(first).toMatchObject({ id: 'diamond/root', planId: 'diamond', step: { id: 'root', command: 'run root' }, priority: 1 });
  });
});
