/**
 * The references of the disaster-recovery config that the schema cannot check alone
 * (CLI.md, "Disaster recovery and continuity: configuration"): each step's `dependsOn`
 * must name steps of its own plan without a cycle, each scenario's `recoveryPlans` must
 * name defined plans, and their `dependsOn` plans the scenario lists, without a cycle.
 * Every problem is a ConfigIssue with the field path, so `config validate` names the steps.
 *
 * The same rules as src/dr/plan-graph.ts, on the same DAG (src/core/dag.ts); config sits
 * below dr, so it cannot ask the plan graph itself.
 */
import { buildDag, formatCycle } from '../core/dag.js';
import { type ConfigIssue, formatPath, suggestKey } from './validation-error.js';

interface StepLike {
  readonly id?: unknown;
  readonly dependsOn?: unknown;
}

interface PlanLike {
  readonly id?: unknown;
  readonly steps?: unknown;
}

interface ScenarioLike {
  readonly recoveryPlans?: unknown;
}

/** The part of a config this reads; plain objects do, as loaded or as parsed. */
export interface DrReferencesConfig {
  readonly scenarios?: readonly ScenarioLike[] | Readonly<Record<string, ScenarioLike>> | undefined;
  readonly recoveryPlans?: readonly PlanLike[] | Readonly<Record<string, PlanLike>> | undefined;
}

type Path = readonly PropertyKey[];

export function checkDrReferences(config: DrReferencesConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const plans = entriesOf(config.recoveryPlans, ['recoveryPlans'], (plan, key, listed) => (listed && typeof plan.id === 'string' ? plan.id : key));
  for (const { id, value, path } of plans) issues.push(...checkSteps(id, value, path));
  for (const { value, path } of entriesOf(config.scenarios, ['scenarios'], () => '')) issues.push(...checkScenario(value, path));
  return issues;
}

function checkSteps(planId: string, plan: PlanLike, planPath: Path): ConfigIssue[] {
  if (!Array.isArray(plan.steps)) return [];
  const steps = (plan.steps as StepLike[]).map((step, i) => ({ id: typeof step.id === 'string' ? step.id : `#${i}`, dependsOn: strings(step.dependsOn), path: [...planPath, 'steps', i] }));
  const stepIds = steps.map((s) => s.id);
  const first = (id: string) => steps.find((s) => s.id === id)!.path;
  const result = buildDag(steps);
  if (result.ok) return [];
  const issues: ConfigIssue[] = [];
  for (const problem of result.problems) {
    if (problem.kind === 'duplicate') {
      for (const s of steps.filter((s) => s.id === problem.node).slice(1)) issues.push(issue([...s.path, 'id'], `step id ${problem.node} is used more than once in plan ${planId}`));
    } else if (problem.kind === 'unknown-dependency') {
      issues.push(issue([...first(problem.node), 'dependsOn'], `step ${problem.node} depends on '${problem.missing}', which plan ${planId} does not have${hint(problem.missing, stepIds)}`));
    } else {
      issues.push(issue([...first(problem.nodes[0]!), 'dependsOn'], `steps ${formatCycle(problem.nodes)} of plan ${planId} form a cycle`));
    }
  }
  return issues;
}

function checkScenario(scenario: ScenarioLike, scenarioPath: Path): ConfigIssue[] {
  if (!Array.isArray(scenario.recoveryPlans)) return [];
  const issues: ConfigIssue[] = [];
  const entries = (scenario.recoveryPlans as unknown[]).map((entry, i) => {
    const path = [...scenarioPath, 'recoveryPlans', i];
    if (typeof entry === 'string') return { planId: entry, dependsOn: [], path, idPath: path };
    const object = (entry ?? {}) as { planId?: unknown; dependsOn?: unknown };
    return { planId: typeof object.planId === 'string' ? object.planId : `#${i}`, dependsOn: strings(object.dependsOn), path, idPath: [...path, 'planId'] };
  });
  const listed = entries.map((e) => e.planId);
  entries.forEach((entry, i) => {
    if (listed.indexOf(entry.planId) !== i) issues.push(issue(entry.idPath, `plan ${entry.planId} is listed more than once`));
    // A plan the config does not define is not an error here: the brief's scenarios name plans an
    // application registers itself (CLI.md: they load unchanged). Triggering such a scenario fails
    // naming the plan (src/dr/plan-graph.ts), and a dry run shows it first.
  });
  const unique = entries.filter((e, i) => listed.indexOf(e.planId) === i);
  const first = (id: string) => unique.find((e) => e.planId === id)!.path;
  const result = buildDag(unique.map((e) => ({ id: e.planId, dependsOn: e.dependsOn })));
  if (!result.ok) {
    for (const problem of result.problems) {
      if (problem.kind === 'unknown-dependency') {
        issues.push(issue([...first(problem.node), 'dependsOn'], `plan ${problem.node} depends on '${problem.missing}', which the scenario does not list${hint(problem.missing, listed)}`));
      } else if (problem.kind === 'cycle') {
        issues.push(issue([...first(problem.nodes[0]!), 'dependsOn'], `plans ${formatCycle(problem.nodes)} form a cycle`));
      }
    }
  }
  return issues;
}

/** A list's or a record's entries with their ids and paths. */
function entriesOf<T>(items: readonly T[] | Readonly<Record<string, T>> | undefined, base: Path, idOf: (item: T, key: string, listed: boolean) => string): { id: string; value: T; path: Path }[] {
  if (items === undefined) return [];
  if (Array.isArray(items)) return (items as readonly T[]).map((value, i) => ({ id: idOf(value, `#${i}`, true), value, path: [...base, i] }));
  return Object.entries(items as Readonly<Record<string, T>>).map(([key, value]) => ({ id: idOf(value, key, false), value, path: [...base, key] }));
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function issue(path: Path, message: string): ConfigIssue {
  return { path: formatPath(path), message };
}

function hint(unknown: string, known: string[]): string {
  const suggestion = suggestKey(unknown, known);
  return suggestion ? ` (did you mean '${suggestion}'?)` : '';
}
