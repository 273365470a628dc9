import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DrScenario } from '../config/dr-schema.js';
import { UsageError } from '../core/errors.js';
import { commandStep } from './command-step.js';
import { type DrContext, recoveryPlans, scenarioById } from './dr-context.js';
import type { ExecutionEvent } from './execution-runner.js';
import { triggerRecovery, type TriggerResult } from './trigger-recovery.js';
import { watchDetectors } from './watch-detectors.js';
import { drTestTrigger } from '../catalog/dr-executions-table.js';

export type RecoveryTestType = 'component' | 'integration' | 'e2e' | 'chaos';

export interface RecoveryTestOptions {
  /** For a scenario id (not a `drTests` suite): the type; default e2e. A suite's own type wins. */
  type?: RecoveryTestType | undefined;
  /** Only scenarios that affect one of these systems. */
  scope?: string[] | undefined;
  dryRun?: boolean | undefined;
  /** The suite's scenarios side by side rather than one after another. */
  parallel?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: ((e: ExecutionEvent) => void) | undefined;
}

export interface ScenarioTestResult {
  scenarioId: string;
  passed: boolean;
  /** One execution per plan (component), else one. */
  executions: TriggerResult[];
  /** Why it did not pass. */
  reason?: string;
  /** chaos: seconds from the injection to the detection, and from the detection to the end of the recovery. */
  detectionSeconds?: number;
  recoverySeconds?: number;
}

export interface RecoveryTestResult {
  suite: string;
  type: RecoveryTestType;
  passed: boolean;
  /** Stopped by Ctrl-C or SIGTERM: not a verdict on the plans. */
  interrupted: boolean;
  startedAt: string;
  endedAt: string;
  scenarios: ScenarioTestResult[];
}

/**
 * `dr test` (DESIGN.md "DR tests"): runs scenarios against scratch targets. Each step's
 * `test` override replaces its fields (or skips it); a restore step the override does
 * not move is given a scratch folder, and approval steps are skipped, so a test never
 * writes over production paths nor waits for a person. Types:
 * - component: each plan of the scenario on its own;
 * - integration: the scenario's plans together, in their dependency order;
 * - e2e: the same, and it passes only when the achieved RTO and RPO meet the targets;
 * - chaos: the suite's `inject` command causes the failure, the scenario's detectors must
 *   find it within the RTO, and the recovery they start is measured.
 * Every execution is recorded (`triggeredBy: dr-test:<type>:<suite>`), so tests show in
 * `dr history` and count as evidence.
 */
export async function runRecoveryTest(ctx: DrContext, suite: string, opts: RecoveryTestOptions = {}): Promise<RecoveryTestResult> {
  const entry = ctx.config.drTests?.[suite];
  const type: RecoveryTestType = entry?.type ?? opts.type ?? 'e2e';
  let selected = entry ? entry.scenarios.map((id) => scenarioById(ctx, id)) : [scenarioById(ctx, suite)];
  const scope = opts.scope ?? entry?.scope;
  if (scope?.length) {
    selected = selected.filter((s) => s.affectedSystems.some((sys) => scope.includes(sys) || sys === 'all'));
    if (selected.length === 0) throw new UsageError(`no scenario of ${suite} affects ${scope.join(', ')}`);
  }
  if (type === 'chaos' && !entry?.inject) throw new UsageError(`a chaos test needs drTests.${suite}.inject: the command that causes the failure`);
  const startedAt = new Date().toISOString();
  const runOne = (scenario: DrScenario) => testScenario(ctx, suite, type, scenario, { ...opts, inject: entry?.inject });
  const results = opts.parallel || entry?.parallel ? await Promise.all(selected.map(runOne)) : await sequentially(selected, runOne);
  const result: RecoveryTestResult = {
    suite,
    type,
    passed: results.every((r) => r.passed),
    interrupted: opts.signal?.aborted ?? false,
    startedAt,
    endedAt: new Date().toISOString(),
    scenarios: results,
  };
  ctx.catalog.audit.append({
    action: 'dr.test',
    target: suite,
    payload: {
      type,
      passed: result.passed,
      interrupted: result.interrupted,
      dryRun: opts.dryRun ?? false,
      scenarios: results.map((r) => ({ id: r.scenarioId, passed: r.passed, executions: r.executions.map((e) => e.id), reason: r.reason ?? null, detectionSeconds: r.detectionSeconds ?? null })),
    },
  });
  return result;
}

async function sequentially<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

async function testScenario(ctx: DrContext, suite: string, type: RecoveryTestType, scenario: DrScenario, opts: RecoveryTestOptions & { inject?: string | undefined }): Promise<ScenarioTestResult> {
  const scratch = await mkdtemp(join(tmpdir(), `bkdr-drtest-${scenario.id}-`));
  const testCtx = withScratchTargets(ctx, scenario, scratch);
  const common = { triggeredBy: drTestTrigger(type, suite), dryRun: opts.dryRun ?? false, test: { type }, signal: opts.signal, onEvent: opts.onEvent };
  try {
    if (type === 'chaos' && !opts.dryRun) return await chaos(testCtx, scenario, opts.inject!, common);
    if (type === 'component') {
      const executions: TriggerResult[] = [];
      for (const plan of scenario.recoveryPlans) {
        const one = { ...scenario, recoveryPlans: [{ planId: plan.planId }] };
        executions.push(await triggerRecovery(withScenario(testCtx, one), scenario.id, { ...common, reason: `component test of plan ${plan.planId}` }));
      }
      return verdict(scenario.id, executions, false);
    }
    const execution = await triggerRecovery(testCtx, scenario.id, { ...common, reason: `${type} test` });
    return verdict(scenario.id, [execution], type === 'e2e');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function verdict(scenarioId: string, executions: TriggerResult[], objectives: boolean): ScenarioTestResult {
  const failed = executions.find((e) => !(e.status === 'succeeded' || (e.status === 'planned' && e.preflightOk !== false)));
  if (failed) return { scenarioId, passed: false, executions, reason: `execution ${failed.id} ${failed.status}${failed.error ? `: ${failed.error}` : ''}` };
  const missed = objectives ? executions.find((e) => e.rto.met === false || e.rpo.met === false) : undefined;
  if (missed) return { scenarioId, passed: false, executions, reason: `execution ${missed.id} missed its ${missed.rto.met === false ? 'RTO' : 'RPO'}` };
  return { scenarioId, passed: true, executions };
}

/** Injects the failure, waits for the scenario's own detectors to start its recovery (in test mode), measures both. */
async function chaos(ctx: DrContext, scenario: DrScenario, inject: string, common: { triggeredBy: string; signal?: AbortSignal | undefined }): Promise<ScenarioTestResult> {
  const only = withScenario(ctx, { ...scenario, automatic: true, cooldown: 0 }, true);
  const stop = new AbortController();
  const outer = common.signal;
  outer?.addEventListener('abort', () => stop.abort(outer.reason), { once: true });
  // Give up when nothing was detected within the scenario's RTO.
  const deadline = setTimeout(() => stop.abort(new Error('not detected within the RTO')), scenario.rto);
  let detectedAt: Date | undefined;
  let result: TriggerResult | undefined;
  let ready!: () => void;
  const primed = new Promise<void>((r) => (ready = r));
  let injectedAt = new Date();
  const watching = watchDetectors(
    { ...only, testMode: { triggeredBy: common.triggeredBy, type: 'chaos' } },
    {
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'watching') ready();
        if (e.type === 'detection' && e.decision === 'start') {
          detectedAt ??= e.at;
          // Detected in time: the recovery has its own RTO to meet, measured, not cut short.
          clearTimeout(deadline);
        }
        if (e.type === 'execution-ended') {
          clearTimeout(deadline);
          stop.abort();
        }
      },
    },
  ).then((r) => (result = r.executions[0]));
  try {
    await Promise.race([primed, watching]);
    injectedAt = new Date();
    await commandStep.run({ id: 'inject', type: 'command', onFailure: 'abort', command: inject }, { dryRun: false, log: (level, message) => ctx.logger[level](message) }, stop.signal);
    await watching;
  } catch (err) {
    stop.abort();
    await watching.catch(() => undefined);
    return { scenarioId: scenario.id, passed: false, executions: result ? [result] : [], reason: `injection failed: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(deadline);
  }
  if (!result || !detectedAt) return { scenarioId: scenario.id, passed: false, executions: [], reason: `the failure injected by \`${inject}\` was not detected within the RTO` };
  const v = verdict(scenario.id, [result], true);
  return {
    ...v,
    detectionSeconds: (detectedAt.getTime() - injectedAt.getTime()) / 1000,
    recoverySeconds: result.endedAt ? (Date.parse(result.endedAt) - detectedAt.getTime()) / 1000 : undefined,
  } as ScenarioTestResult;
}

/** The context with only this scenario (for component tests: with only one of its plans; for chaos: only it is watched). */
function withScenario(ctx: DrContext, scenario: DrScenario, alone = false): DrContext {
  const registered = new Map(alone ? [] : ctx.registered);
  registered.set(scenario.id, scenario);
  const config = alone ? { ...ctx.config, scenarios: [scenario] } : ctx.config;
  return { ...ctx, config, registered };
}

/** Restore steps without a `test.target` restore into the scratch folder; approvals are skipped. */
function withScratchTargets(ctx: DrContext, scenario: DrScenario, scratch: string): DrContext {
  const plans = new Map(ctx.registeredPlans);
  const known = recoveryPlans(ctx);
  for (const ref of scenario.recoveryPlans) {
    const plan = known[ref.planId];
    if (!plan) continue;
    plans.set(ref.planId, {
      ...plan,
      steps: plan.steps.map((step) => {
        // A test never waits for a person, whatever its override says.
        if (step.type === 'approval') return { ...step, test: 'skip' as const };
        if (step.type !== 'restore' || step.test === 'skip') return step;
        const override = step.test ?? {};
        // Into a database: a test database unless the override names one (a `target` alone would not move it: a restore into a database ignores the folder).
        if (step.targetDatabase !== undefined) return override.targetDatabase !== undefined ? step : { ...step, test: { ...override, targetDatabase: `${step.targetDatabase}_drtest` } };
        if (override.target !== undefined || override.targetDatabase !== undefined) return step;
        return { ...step, test: { ...override, target: join(scratch, `${ref.planId}-${step.id}`) } };
      }),
    });
  }
  return { ...ctx, registeredPlans: plans };
}
