import type { DrScenario } from '../config/dr-schema.js';
import { deadlineSignal, untilAborted } from '../core/deadline-signal.js';
import type { DrContext } from './dr-context.js';
import { notifyStep } from './notify-step.js';
import type { StepContext } from './step-executor.js';

/** A webhook that never answers must not hold a command (or a watch) after the event it tells of. */
const ANNOUNCE_TIMEOUT_MS = 30_000;

/** What a step run outside an execution gets (a health check's query, an announcement): the config and the logger. */
export function standaloneStepContext(ctx: Pick<DrContext, 'config' | 'configDir' | 'logger'>): StepContext {
  return { dryRun: false, config: ctx.config, configDir: ctx.configDir, log: (level, message) => ctx.logger[level](message) };
}

/**
 * Sends `message` to the scenario's `notify` (webhook and/or command), if it has one:
 * a detection nobody acts on automatically, or how an execution ended. A failure to
 * announce is logged, never the caller's failure.
 */
export async function announceToScenario(
  ctx: Pick<DrContext, 'config' | 'configDir' | 'logger'>,
  scenario: { id: string; name: string; notify?: DrScenario['notify'] | undefined },
  message: string,
  opts: { signal: AbortSignal; executionId?: string; what: string },
): Promise<void> {
  if (!scenario.notify) return;
  const context: StepContext = { ...standaloneStepContext(ctx), execution: { id: opts.executionId ?? '', scenarioId: scenario.id, scenarioName: scenario.name } };
  const deadline = deadlineSignal(opts.signal, ANNOUNCE_TIMEOUT_MS);
  await untilAborted(notifyStep.run({ id: 'announce', type: 'notify', onFailure: 'abort', message, ...scenario.notify }, context, deadline.signal), deadline.signal)
    .then(
      () => undefined,
      (err: unknown) => ctx.logger.error(`announcing ${opts.what} failed: ${err instanceof Error ? err.message : String(err)}`),
    )
    .finally(() => deadline.clear());
}
