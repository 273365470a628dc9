/**
 * A small generic DAG: nodes with ids and the ids they depend on. `buildDag` yields a
 * stable topological order, or every problem at once: duplicate ids, unknown dependencies
 * and cycles. `readyNodes` says which nodes may run next. Pure, no I/O.
 *
 * The order is Kahn's algorithm: among the nodes whose dependencies are all placed, the
 * lowest `rank` goes first, then the one declared first. So a low-rank node that becomes
 * ready late still goes before a higher-rank one that was ready earlier.
 */

export interface DagNode {
  readonly id: string;
  readonly dependsOn?: readonly string[] | undefined;
  /** Lower goes first among nodes ready at the same time; 0 when absent. */
  readonly rank?: number | undefined;
}

export type DagProblem =
  | { readonly kind: 'duplicate'; readonly node: string }
  | { readonly kind: 'unknown-dependency'; readonly node: string; readonly missing: string }
  /** The ids around the cycle in running order (each runs after the one before it), starting with the one declared first. */
  | { readonly kind: 'cycle'; readonly nodes: readonly string[] };

export interface Dag {
  /** A topological order: every node after all of its dependencies. */
  readonly order: readonly string[];
  /** Each node's dependencies, without duplicates. */
  readonly dependencies: ReadonlyMap<string, readonly string[]>;
}

export type DagResult = { readonly ok: true; readonly dag: Dag } | { readonly ok: false; readonly problems: readonly DagProblem[] };

export type NodeState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

/** States by node id, as a map or a record; a node without one is `pending`. */
export type NodeStates = ReadonlyMap<string, NodeState> | Readonly<Record<string, NodeState>>;

/** Enumerating cycles can be exponential; past this many, the rest are not listed (each is still in an SCC that is). */
const MAX_CYCLES = 20;

export function buildDag(nodes: readonly DagNode[]): DagResult {
  const problems: DagProblem[] = [];
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (index.has(node.id)) problems.push({ kind: 'duplicate', node: node.id });
    else index.set(node.id, i);
  });
  const unique = nodes.filter((node, i) => index.get(node.id) === i);

  const dependencies = new Map<string, string[]>();
  for (const node of unique) {
    const known: string[] = [];
    for (const dep of node.dependsOn ?? []) {
      if (!index.has(dep)) problems.push({ kind: 'unknown-dependency', node: node.id, missing: dep });
      else if (!known.includes(dep)) known.push(dep);
    }
    dependencies.set(node.id, known);
  }

  const order = kahn(unique, dependencies, index);
  if (order.length < unique.length) {
    for (const nodes of findCycles(unique, dependencies, index)) problems.push({ kind: 'cycle', nodes });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, dag: { order, dependencies } };
}

/** The pending nodes whose dependencies have all succeeded, in the graph's order. */
export function readyNodes(dag: Dag, states: NodeStates): string[] {
  const state = (id: string): NodeState => (states instanceof Map ? states.get(id) : (states as Readonly<Record<string, NodeState>>)[id]) ?? 'pending';
  return dag.order.filter((id) => state(id) === 'pending' && (dag.dependencies.get(id) ?? []).every((dep) => state(dep) === 'succeeded'));
}

/** `a → b → a`: the cycle's ids in running order, back to the first. */
export function formatCycle(nodes: readonly string[]): string {
  return [...nodes, nodes[0]].join(' → ');
}

function kahn(nodes: readonly DagNode[], dependencies: ReadonlyMap<string, readonly string[]>, index: ReadonlyMap<string, number>): string[] {
  const waiting = new Map(nodes.map((n) => [n.id, dependencies.get(n.id)?.length ?? 0]));
  const dependents = dependentsOf(nodes, dependencies);
  const rank = new Map(nodes.map((n) => [n.id, n.rank ?? 0]));
  const before = (a: string, b: string) => rank.get(a)! - rank.get(b)! || index.get(a)! - index.get(b)!;
  const ready = nodes.filter((n) => waiting.get(n.id) === 0).map((n) => n.id);
  const order: string[] = [];
  while (ready.length > 0) {
    // Graphs here are small (the steps of a scenario); a linear pick keeps it obvious.
    let best = 0;
    for (let i = 1; i < ready.length; i++) if (before(ready[i]!, ready[best]!) < 0) best = i;
    const id = ready.splice(best, 1)[0]!;
    order.push(id);
    for (const next of dependents.get(id) ?? []) {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  return order;
}

function dependentsOf(nodes: readonly DagNode[], dependencies: ReadonlyMap<string, readonly string[]>): Map<string, string[]> {
  const dependents = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const node of nodes) for (const dep of dependencies.get(node.id) ?? []) dependents.get(dep)!.push(node.id);
  return dependents;
}

/**
 * Every elementary cycle, each once: a cycle is found only from its earliest-declared node,
 * walking running order (a node to its dependents) through nodes declared after it.
 * The walk is confined to strongly connected components, so it never wanders outside one.
 */
function findCycles(nodes: readonly DagNode[], dependencies: ReadonlyMap<string, readonly string[]>, index: ReadonlyMap<string, number>): string[][] {
  const dependents = dependentsOf(nodes, dependencies);
  const component = stronglyConnected(nodes, dependents);
  const cycles: string[][] = [];
  for (const start of nodes) {
    const path = [start.id];
    const onPath = new Set(path);
    const walk = (id: string): void => {
      for (const next of dependents.get(id) ?? []) {
        if (cycles.length >= MAX_CYCLES) return;
        if (component.get(next) !== component.get(start.id)) continue;
        if (next === start.id) cycles.push([...path]);
        else if (index.get(next)! > index.get(start.id)! && !onPath.has(next)) {
          path.push(next);
          onPath.add(next);
          walk(next);
          path.pop();
          onPath.delete(next);
        }
      }
    };
    walk(start.id);
  }
  return cycles;
}

/** Tarjan's algorithm: each node's component number. */
function stronglyConnected(nodes: readonly DagNode[], edges: ReadonlyMap<string, readonly string[]>): Map<string, number> {
  const component = new Map<string, number>();
  const low = new Map<string, number>();
  const visit = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  let counter = 0;
  let components = 0;
  const connect = (id: string): void => {
    visit.set(id, counter);
    low.set(id, counter++);
    stack.push(id);
    onStack.add(id);
    for (const next of edges.get(id) ?? []) {
      if (!visit.has(next)) {
        connect(next);
        low.set(id, Math.min(low.get(id)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(id, Math.min(low.get(id)!, visit.get(next)!));
    }
    if (low.get(id) === visit.get(id)) {
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.set(member, components);
      } while (member !== id);
      components++;
    }
  };
  for (const node of nodes) if (!visit.has(node.id)) connect(node.id);
  return component;
}
