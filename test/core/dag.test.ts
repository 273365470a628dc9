import { describe, expect, it } from 'vitest';
import { buildDag, type Dag, type DagNode, type DagProblem, formatCycle, type NodeState, readyNodes } from '../../src/core/dag.js';

const node = (id: string, dependsOn: string[] = [], rank?: number): DagNode => ({ id, dependsOn, ...(rank === undefined ? {} : { rank }) });

function dagOf(nodes: DagNode[]): Dag {
  const result = buildDag(nodes);
  if (!result.ok) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
  return result.dag;
}

const diamond = [node('root'), node('left', ['root']), node('right', ['root']), node('join', ['left', 'right'])];

describe('buildDag orders nodes after their dependencies, stably', () => {
  it.each<[string, DagNode[], string[]]>([
    ['a linear chain runs in chain order whatever the declaration order', [node('c', ['b']), node('b', ['a']), node('a')], ['a', 'b', 'c']],
    ['a diamond runs the root, both middles, then the join', diamond, ['root', 'left', 'right', 'join']],
    ['independent nodes keep their declaration order', [node('x'), node('y'), node('z')], ['x', 'y', 'z']],
    ['independent nodes run by rank, lower first', [node('x', [], 3), node('y', [], 1), node('z', [], 2)], ['y', 'z', 'x']],
    ['equal ranks fall back to declaration order', [node('x', [], 1), node('y', [], 0), node('z', [], 1)], ['y', 'x', 'z']],
    ['a low-rank node ready late still goes before a high-rank one ready earlier', [node('a', [], 0), node('late', ['a'], 0), node('high', [], 5)], ['a', 'late', 'high']],
    ['a dependency listed twice counts once', [node('a'), node('b', ['a', 'a'])], ['a', 'b']],
    ['an empty graph has an empty order', [], []],
  ])('%s', (_case, nodes, order) => {
    expect(dagOf(nodes).order).toEqual(order);
  });
});

describe('buildDag reports every problem at once', () => {
  it.each<[string, DagNode[], DagProblem[]]>([
    ['a node depending on itself is a cycle of one', [node('a', ['a'])], [{ kind: 'cycle', nodes: ['a'] }]],
    ['two nodes depending on each other are a cycle of two', [node('a', ['b']), node('b', ['a'])], [{ kind: 'cycle', nodes: ['a', 'b'] }]],
    [
      'a cycle of three is listed in running order from the node declared first',
      [node('start', ['check']), node('restore', ['start']), node('check', ['restore'])],
      [{ kind: 'cycle', nodes: ['start', 'restore', 'check'] }],
    ],
    [
      'two separate cycles are each listed once',
      [node('a', ['b']), node('b', ['a']), node('c', ['c']), node('ok')],
      [
        { kind: 'cycle', nodes: ['a', 'b'] },
        { kind: 'cycle', nodes: ['c'] },
      ],
    ],
    [
      'two cycles sharing a node are both listed',
      [node('a', ['b', 'c']), node('b', ['a']), node('c', ['a'])],
      [
        { kind: 'cycle', nodes: ['a', 'b'] },
        { kind: 'cycle', nodes: ['a', 'c'] },
      ],
    ],
    ['a node downstream of a cycle is not part of it', [node('a', ['b']), node('b', ['a']), node('after', ['a'])], [{ kind: 'cycle', nodes: ['a', 'b'] }]],
    [
      'every unknown dependency is named with its node',
      [node('a', ['nope']), node('b', ['a', 'gone', 'nope'])],
      [
        { kind: 'unknown-dependency', node: 'a', missing: 'nope' },
        { kind: 'unknown-dependency', node: 'b', missing: 'gone' },
        { kind: 'unknown-dependency', node: 'b', missing: 'nope' },
      ],
    ],
    [
      'unknown dependencies and cycles together',
      [node('a', ['b', 'x']), node('b', ['a'])],
      [
        { kind: 'unknown-dependency', node: 'a', missing: 'x' },
        { kind: 'cycle', nodes: ['a', 'b'] },
      ],
    ],
    ['a duplicate id is named', [node('a'), node('a', ['a'])], [{ kind: 'duplicate', node: 'a' }]],
  ])('%s', (_case, nodes, problems) => {
    expect(buildDag(nodes)).toEqual({ ok: false, problems });
  });

  it('formats a cycle back to its first node', () => {
    expect(formatCycle(['start', 'check'])).toBe('start → check → start');
    expect(formatCycle(['a'])).toBe('a → a');
  });
});

describe('readyNodes yields the pending nodes whose dependencies all succeeded', () => {
  const dag = dagOf(diamond);
  it.each<[string, Record<string, NodeState>, string[]]>([
    ['at the start only the root', {}, ['root']],
    ['nothing more while the root runs', { root: 'running' }, []],
    ['both middles once the root succeeded', { root: 'succeeded' }, ['left', 'right']],
    ['the other middle while one runs', { root: 'succeeded', left: 'running' }, ['right']],
    ['not the join after only one middle succeeded', { root: 'succeeded', left: 'succeeded', right: 'running' }, []],
    ['the join once both middles succeeded', { root: 'succeeded', left: 'succeeded', right: 'succeeded' }, ['join']],
    ['not the join when a middle failed', { root: 'succeeded', left: 'succeeded', right: 'failed' }, []],
    ['not the join when a middle was skipped', { root: 'succeeded', left: 'skipped', right: 'succeeded' }, []],
    ['nothing once everything finished', { root: 'succeeded', left: 'succeeded', right: 'succeeded', join: 'succeeded' }, []],
  ])('%s', (_case, states, ready) => {
    expect(readyNodes(dag, states)).toEqual(ready);
    expect(readyNodes(dag, new Map(Object.entries(states)))).toEqual(ready);
  });
});
