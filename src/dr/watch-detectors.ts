import { type DrScenario } from '../config/dr-schema.js';
import { OperationError } from '../core/errors.js';
import { type DrContext, scenarios } from './dr-context.js';
import { buildDetectors } from './detectors/build-detectors.js';
import { DEFAULT_COOLDOWN_MS, DetectionGate, type GateDecision } from './detectors/detection-gate.js';
import type { Firing } from './detectors/detector.js';
import { startExternalListener } from './detectors/external-listener.js';
import type { ExternalRequest, ExternalResponse } from './detectors/external-trigger.js';
import type { SqlCheck } from './detectors/health-probe.js';
import type { ExecutionEvent } from './execution-runner.js';
import { announceToScenario, standaloneStepContext } from './announce.js';
import { sqlStep } from './sql-step.js';
import { triggerRecovery, type TriggerResult } from './trigger-recovery.js';

export type WatchEvent =
  | { type: 'watching'; detectors: { scenarioId: string; trigger: string }[]; listening?: string; skipped?: { scenarioId: string; trigger: string; why: string }[] }
  | { type: 'detection'; scenarioId: string; trigger: string; detail: string; at: Date; failureAt: Date; decision: GateDecision['decision']; reason?: string }
  | { type: 'execution-started'; scenarioId: string; executionId: string }
  | { type: 'execution-ended'; scenarioId: string; executionId: string; status: string; error?: string }
  | { type: 'execution'; event: ExecutionEvent };

export interface WatchOptions {
  /** One look at every detector that can answer in one (health checks, metrics), then the executions it started, then return. */
  once?: boolean;
  signal: AbortSignal;
  onEvent?: (e: WatchEvent) => void;
  /** Only the external triggers: the other detectors are `dr watch`'s, run by another process. */
  onlyExternal?: boolean;
  /**
   * The caller serves /hooks/* itself (`bkdr serve`) and hands each request to the handler it
   * is given here, instead of a listener on `monitoring.webhooks`.
   */
  serveHooks?: (handle: (req: ExternalRequest) => ExternalResponse) => void;
}

export interface WatchResult {
  detections: number;
  executions: TriggerResult[];
}

/**
 * `dr watch` (DESIGN.md "Detectors"): runs a detector per scenario trigger; each firing
 * goes through the detection gate (de-duplication, cooldown, a scenario already running)
 * and then starts the scenario (`automatic: true`) with the detection's times, or is only
 * recorded and announced to the scenario's `notify`. External triggers are served on
 * `monitoring.webhooks`. Runs until the signal aborts; executions it started and that are
 * still running are then left `interrupted`, for `dr resume`.
 */
export async function watchDetectors(ctx: DrContext, opts: WatchOptions): Promise<WatchResult> {
  const emit = opts.onEvent ?? (() => undefined);
  const runSql = (check: SqlCheck, signal: AbortSignal) =>
    sqlStep
      .run(
        { id: 'health', type: 'sql', onFailure: 'abort', query: check.query, ...(check.source ? { source: check.source } : {}), ...(check.url ? { url: check.url } : {}) },
        standaloneStepContext(ctx),
        signal,
      )
      .then(() => undefined);
  const built = buildDetectors({ config: ctx.config, configDir: ctx.configDir, healthSamples: ctx.catalog.healthSamples, log: ctx.logger, runSql });
  const byId = new Map(scenarios(ctx).map((s) => [s.id, s]));
  const gate = new DetectionGate(ctx.catalog.detections, (scenarioId) => {
    ctx.catalog.drExecutions.reapDied();
    return ctx.catalog.drExecutions.active(scenarioId).length > 0;
  });
  const running = new Set<Promise<void>>();
  const executions: TriggerResult[] = [];
  let detections = 0;
  const onceErrors: string[] = [];
  const startErrors: string[] = [];
  const announcedAt = new Map<string, number>();

  const onFiring = (scenario: DrScenario, firing: Firing) => {
    detections++;
    const decision = gate.decide(scenario, firing);
    emit({
      type: 'detection',
      scenarioId: scenario.id,
      trigger: firing.trigger,
      detail: firing.detail,
      at: firing.at,
      failureAt: firing.failureAt,
      decision: decision.decision,
      ...(decision.decision === 'suppressed' ? { reason: decision.reason } : {}),
    });
    if (decision.decision === 'record-only') {
      // Every detection is recorded; the people told are told once per cooldown, not at every matching line.
      const last = announcedAt.get(scenario.id);
      if (last !== undefined && firing.at.getTime() - last < (scenario.cooldown ?? DEFAULT_COOLDOWN_MS)) return;
      announcedAt.set(scenario.id, firing.at.getTime());
      const message = `${scenario.name}: ${firing.trigger} fired (${firing.detail}); automatic is off: \`bkdr dr trigger ${scenario.id}\` starts its recovery`;
      ctx.logger.warn(message);
      void announceToScenario(ctx, scenario, message, { signal: opts.signal, what: `the detection of ${scenario.id}` });
      return;
    }
    if (decision.decision !== 'start') return;
    const execution = triggerRecovery(ctx, scenario.id, {
      triggeredBy: ctx.testMode?.triggeredBy ?? 'automatic',
      ...(ctx.testMode ? { test: { type: ctx.testMode.type } } : {}),
      reason: `${firing.trigger}: ${firing.detail}`,
      detectionAt: firing.at,
      failureAt: firing.failureAt,
      signal: opts.signal,
      onCreated: (executionId) => {
        gate.started(decision.detectionId, executionId, scenario.id, firing.at);
        emit({ type: 'execution-started', scenarioId: scenario.id, executionId });
      },
      onEvent: (event) => emit({ type: 'execution', event }),
    })
      .then((result) => {
        executions.push(result);
        emit({ type: 'execution-ended', scenarioId: scenario.id, executionId: result.id, status: result.status, ...(result.error ? { error: result.error } : {}) });
      })
      .catch((err: unknown) => {
        const why = `scenario ${scenario.id} could not start: ${err instanceof Error ? err.message : String(err)}`;
        startErrors.push(why);
        ctx.logger.error(why);
      });
    running.add(execution);
    void execution.finally(() => running.delete(execution));
  };

  const wanted = opts.onlyExternal ? built.detectors.filter((d) => d.trigger.startsWith('external')) : built.detectors;
  const active = opts.once ? wanted.filter((d) => d.once) : wanted;
  // Where each log ends now: a line written after `watching` is said must fire. Before the listener opens, so a failure here leaves nothing open.
  await Promise.all(active.map((d) => d.prime?.())).catch(async (err: unknown) => {
    await built.close();
    throw err;
  });
  if (built.externalHandler && opts.serveHooks && !opts.once) opts.serveHooks(built.externalHandler);
  const listener =
    built.externalHandler && ctx.config.monitoring?.webhooks && !opts.once && !opts.serveHooks
      ? await startExternalListener({ host: ctx.config.monitoring.webhooks.host, port: ctx.config.monitoring.webhooks.port, handle: built.externalHandler })
      : undefined;
  const skipped: { scenarioId: string; trigger: string; why: string }[] = [];
  if (built.externalHandler && !listener && !opts.once && !opts.serveHooks) {
    for (const d of built.detectors.filter((x) => x.trigger.startsWith('external'))) skipped.push({ scenarioId: d.scenarioId, trigger: d.trigger, why: 'no monitoring.webhooks to listen on' });
  }
  if (opts.once) for (const d of wanted.filter((x) => !x.once)) skipped.push({ scenarioId: d.scenarioId, trigger: d.trigger, why: 'needs a running watch (a log tail or a webhook)' });
  emit({
    type: 'watching',
    detectors: active.map((d) => ({ scenarioId: d.scenarioId, trigger: d.trigger })),
    ...(listener ? { listening: listener.url } : {}),
    ...(skipped.length ? { skipped } : {}),
  });

  try {
    if (opts.once) {
      for (const d of active) {
        const firing = await d.once!().catch((err: unknown) => {
          onceErrors.push(`${d.scenarioId}: ${d.trigger}: ${err instanceof Error ? err.message : String(err)}`);
          return undefined;
        });
        const scenario = byId.get(d.scenarioId);
        if (firing && scenario) onFiring(scenario, firing);
      }
    } else {
      // One detector that fails (its firing could not be recorded) stops them all: a watch is whole or it exits and says why.
      const detectorsStop = new AbortController();
      const signal = AbortSignal.any([opts.signal, detectorsStop.signal]);
      let failure: unknown;
      await Promise.all(
        active.map((d) =>
          d
            .run((firing) => {
              const scenario = byId.get(d.scenarioId);
              if (scenario) onFiring(scenario, firing);
            }, signal)
            .catch((err: unknown) => {
              failure ??= new OperationError(`${d.scenarioId}: ${d.trigger}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
              detectorsStop.abort();
            }),
        ),
      );
      if (failure !== undefined) throw failure;
    }
    // Executions it started run to their end (or to the interruption).
    while (running.size > 0) await Promise.all([...running]);
    if (onceErrors.length > 0) throw new OperationError(`dr watch --once could not look at every trigger: ${onceErrors.join('; ')}`);
    if (opts.once && startErrors.length > 0) throw new OperationError(startErrors.join('; '));
  } finally {
    // Even when the watch fails, a recovery it started is not left half-done: it ends before the catalog closes.
    while (running.size > 0) await Promise.allSettled([...running]);
    await listener?.close();
    await built.close();
  }
  return { detections, executions };
}
