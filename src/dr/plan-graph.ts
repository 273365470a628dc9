/**
 * The plan graph (DESIGN.md, "Disaster recovery"): a scenario's recovery plans and their
 * steps as one DAG over steps, ids qualified `planId/stepId`. Pure, no I/O.
 *
 * - A step's `dependsOn` names steps of its own plan.
 * - A plan entry's `dependsOn` names other plans of the scenario: every root step of the
 *   dependent plan (one without `dependsOn`) waits for every leaf step of each prerequisite
 *   plan (one no other step of that plan depends on).
 * - A plan's `priority` (lower first; by position when the scenario lists plain ids) orders
 *   steps that are ready at the same time; within a plan, declaration order does.
 * Independent steps may run in parallel: `nextSteps` yields all that are ready.
 */
import { buildDag, type Dag, type DagProblem, formatCycle, type NodeStates, readyNodes } from '../core/dag.js';
import { UsageError } from '../core/errors.js';
import { suggestKey } from '../config/validation-error.js';

export interface StepConfig {
  readonly id: string;
  readonly type: string;
  readonly dependsOn?: readonly string[] | undefined;
  readonly [field: string]: unknown;
}

export interface PlanConfig {
  readonly steps: readonly StepConfig[];
  readonly [field: string]: unknown;
}

/** The config's `recoveryPlans`: plan id → plan, or a list of plans with their ids. */
export type RecoveryPlansConfig = Readonly<Record<string, PlanConfig>> | readonly (PlanConfig & { readonly id: string })[];

export type ScenarioPlanEntry = string | { readonly planId: string; readonly priority?: number | undefined; readonly dependsOn?: readonly string[] | undefined };

export interface ScenarioConfig {
  readonly id?: string | undefined;
  readonly name?: string | undefined;
  readonly recoveryPlans?: readonly ScenarioPlanEntry[] | undefined;
  readonly [field: string]: unknown;
}

export interface PlanGraphStep {
  /** `planId/stepId`. */
  readonly id: string;
  readonly planId: string;
  readonly step: StepConfig;
  /** Qualified ids of the steps it waits for, its plan's prerequisites included. */
  readonly dependsOn: readonly string[];
  /** The plan's priority: lower runs first among steps ready together. */
  readonly priority: number;
}

export interface PlanGraph {
  readonly scenarioId: string;
  /** The plans in the scenario's order. */
  readonly planIds: readonly string[];
  /** Every step, in a topological order. */
  readonly steps: readonly PlanGraphStep[];
  readonly dag: Dag;
}

/** The scenario cannot be turned into a plan graph; `problems` has every reason, the message all of them. */
export class PlanGraphError extends UsageError {
  constructor(
    readonly scenarioId: string,
    readonly problems: readonly string[],
  ) {
    super(problems.map((p) => `scenario ${scenarioId}: ${p}`).join('; '));
  }
}

export const qualifiedStepId = (planId: string, stepId: string): string => `${planId}/${stepId}`;

/** The scenario's plans and steps as one DAG; throws a PlanGraphError naming every problem. */
export function buildPlanGraph(scenario: ScenarioConfig, recoveryPlans: RecoveryPlansConfig | undefined): PlanGraph {
  const scenarioId = scenario.id ?? scenario.name ?? '(unnamed)';
  const plans = plansById(recoveryPlans);
  const problems: string[] = [];

  const entries = (scenario.recoveryPlans ?? []).map((entry, position) =>
    typeof entry === 'string'
      ? { planId: entry, priority: position + 1, dependsOn: [] as readonly string[] }
      : { planId: entry.planId, priority: entry.priority ?? position + 1, dependsOn: entry.dependsOn ?? [] },
  );
  if (entries.length === 0) problems.push('lists no recovery plans');

  const listed = entries.map((e) => e.planId);
  entries.forEach((entry, i) => {
    if (listed.indexOf(entry.planId) !== i) problems.push(`plan ${entry.planId} is listed more than once`);
    else if (!plans.has(entry.planId)) problems.push(`plan ${entry.planId} is not defined in recoveryPlans${hint(entry.planId, [...plans.keys()])}`);
  });

  // Each plan's own steps first, so that a problem names its plan.
  for (const planId of new Set(listed)) {
    const plan = plans.get(planId);
    if (!plan) continue;
    const result = buildDag(plan.steps.map((s) => ({ id: s.id, dependsOn: s.dependsOn })));
    if (!result.ok) {
      const stepIds = plan.steps.map((s) => s.id);
      for (const problem of result.problems) problems.push(`plan ${planId}: ${describeStepProblem(problem, planId, stepIds)}`);
    }
  }

  // Then the plans among themselves.
  const planResult = buildDag(entries.filter((e, i) => listed.indexOf(e.planId) === i).map((e) => ({ id: e.planId, dependsOn: e.dependsOn })));
  if (!planResult.ok) {
    for (const problem of planResult.problems) {
      if (problem.kind === 'unknown-dependency') problems.push(`plan ${problem.node} depends on '${problem.missing}', which the scenario does not list${hint(problem.missing, listed)}`);
      else if (problem.kind === 'cycle') problems.push(`plans ${formatCycle(problem.nodes)} form a cycle`);
    }
  }
  if (problems.length > 0) throw new PlanGraphError(scenarioId, problems);

  const steps = new Map<string, PlanGraphStep>();
  for (const entry of entries) {
    const plan = plans.get(entry.planId)!;
    const prerequisites = entry.dependsOn.flatMap((dep) => leaves(plans.get(dep)!).map((s) => qualifiedStepId(dep, s.id)));
    for (const step of plan.steps) {
      const own = (step.dependsOn ?? []).map((d) => qualifiedStepId(entry.planId, d));
      const id = qualifiedStepId(entry.planId, step.id);
      steps.set(id, { id, planId: entry.planId, step, dependsOn: own.length > 0 ? own : prerequisites, priority: entry.priority });
    }
  }
  const result = buildDag([...steps.values()].map((s) => ({ id: s.id, dependsOn: s.dependsOn, rank: s.priority })));
  // Acyclic plans joined by an acyclic plan order cannot form a cycle; a failure here is a bug.
  if (!result.ok)
    throw new PlanGraphError(
      scenarioId,
      result.problems.map((p) => JSON.stringify(p)),
    );
  return { scenarioId, planIds: listed, steps: result.dag.order.map((id) => steps.get(id)!), dag: result.dag };
}

/** The steps that may start now: pending, with every step they wait for succeeded. States are by qualified id. */
export function nextSteps(graph: PlanGraph, states: NodeStates): PlanGraphStep[] {
  const byId = new Map(graph.steps.map((s) => [s.id, s]));
  return readyNodes(graph.dag, states).map((id) => byId.get(id)!);
}

function plansById(recoveryPlans: RecoveryPlansConfig | undefined): Map<string, PlanConfig> {
  if (recoveryPlans === undefined) return new Map();
  if (isPlanList(recoveryPlans)) return new Map(recoveryPlans.map((p) => [p.id, p]));
  return new Map(Object.entries(recoveryPlans));
}

function isPlanList(plans: RecoveryPlansConfig): plans is readonly (PlanConfig & { readonly id: string })[] {
  return Array.isArray(plans);
}

/** The steps no other step of the plan depends on. */
function leaves(plan: PlanConfig): StepConfig[] {
  const dependedOn = new Set(plan.steps.flatMap((s) => s.dependsOn ?? []));
  return plan.steps.filter((s) => !dependedOn.has(s.id));
}

function describeStepProblem(problem: DagProblem, planId: string, stepIds: string[]): string {
  switch (problem.kind) {
    case 'duplicate':
      return `step id ${problem.node} is used more than once`;
    case 'unknown-dependency':
      return `step ${problem.node} depends on '${problem.missing}', which plan ${planId} does not have${hint(problem.missing, stepIds)}`;
    case 'cycle':
      return `steps ${formatCycle(problem.nodes)} form a cycle`;
  }
}

function hint(unknown: string, known: string[]): string {
  const suggestion = suggestKey(unknown, known);
  return suggestion ? ` (did you mean '${suggestion}'?)` : '';
}
