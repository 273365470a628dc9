import { OperationError } from '../core/errors.js';
import { urlForMessages } from '../core/url-for-messages.js';
import { commandStep, type CommandStep } from './command-step.js';
import { abortReason, type StepContext, type StepExecutor, type StepOfType, type StepOutcome } from './step-executor.js';

export type NotifyStep = StepOfType<'notify'>;

/** Where a message names the webhook: its host only, since webhook URLs (Slack's, Teams') carry their secret in the path. */
const webhookName = (url: string): string => urlForMessages(url, { path: false });

async function postWebhook(step: NotifyStep, url: string, ctx: StepContext, signal: AbortSignal): Promise<number> {
  // `text` is what Slack (and the many webhooks that mimic it) shows; `message` is the same for everyone else.
  const body = JSON.stringify({ text: step.message, message: step.message, execution: ctx.execution ?? null, at: new Date().toISOString() });
  const name = webhookName(url);
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
    // Read to the end so the connection is released.
    await response.arrayBuffer();
  } catch (err) {
    if (signal.aborted) throw abortReason(signal);
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    throw new OperationError(`webhook ${name}: ${cause}`, { cause: err });
  }
  if (response.status < 200 || response.status >= 300) throw new OperationError(`webhook ${name} answered ${response.status}, expected 2xx`);
  return response.status;
}

function runCommand(step: NotifyStep, command: string, ctx: StepContext, signal: AbortSignal): Promise<StepOutcome> {
  const env = { BKDR_MESSAGE: step.message, BKDR_EXECUTION_ID: ctx.execution?.id ?? '', BKDR_SCENARIO: ctx.execution?.scenarioId ?? '' };
  const asCommand: CommandStep = { type: 'command', id: step.id, onFailure: step.onFailure, command, env };
  return commandStep.run(asCommand, ctx, signal);
}

/**
 * Announces `message`: POSTed as JSON to `webhook` (Slack-compatible: `text`), and/or
 * given to `command` (run as a command step would be) in BKDR_MESSAGE, with
 * BKDR_EXECUTION_ID and BKDR_SCENARIO. With both, both are attempted even when one fails:
 * a dead chat must not keep the pager command from running. The step fails if either did.
 */
export const notifyStep: StepExecutor<NotifyStep> = {
  async run(step: NotifyStep, ctx: StepContext, signal: AbortSignal): Promise<StepOutcome> {
    if (signal.aborted) throw abortReason(signal);
    const [webhook, command] = await Promise.allSettled([
      step.webhook !== undefined ? postWebhook(step, step.webhook, ctx, signal) : Promise.resolve(undefined),
      step.command !== undefined ? runCommand(step, step.command, ctx, signal) : Promise.resolve(undefined),
    ]);
    if (signal.aborted) throw abortReason(signal);
    const failures = [webhook, command].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new OperationError(failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; '), { cause: failures[0] });
    const status = webhook.status === 'fulfilled' ? webhook.value : undefined;
    const ran = command.status === 'fulfilled' ? command.value : undefined;
    const done = [...(status !== undefined && step.webhook !== undefined ? [`webhook ${webhookName(step.webhook)} answered ${status}`] : []), ...(ran ? ['command ran'] : [])];
    return {
      detail: `notified: ${done.join(', ')}`,
      output: { message: step.message, ...(status !== undefined ? { webhookStatus: status } : {}), ...(ran?.output ? { command: ran.output } : {}) },
    };
  },
};
