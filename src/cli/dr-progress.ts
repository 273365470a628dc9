import type { ExecutionEvent } from '../dr/disaster-recovery-orchestrator.js';
import type { CliContext } from './context.js';
import { shortTime } from './format.js';

export interface ExecutionReporter {
  onEvent(e: ExecutionEvent): void;
  stop(): void;
}

/** One line for people; undefined for events that only move the progress figure. */
function describe(e: ExecutionEvent): string | undefined {
  switch (e.type) {
    case 'step-started':
      return `${e.stepId}: started${e.attempts > 1 ? ` (attempt ${e.attempt} of ${e.attempts})` : ''}`;
    case 'step-retrying':
      return `${e.stepId}: retrying in ${Math.round(e.delayMs / 1000)} s`;
    case 'step-waiting-approval':
      return `${e.stepId}: waiting for approval: ${e.message} — bkdr dr approve ${e.executionId} ${e.stepId}`;
    case 'step-finished':
      return `${e.stepId}: ${e.status}${e.error ? `: ${e.error}` : e.detail ? `: ${e.detail}` : ''}`;
    case 'rollback-step':
      return `${e.stepId}: rollback ${e.status}${e.error ? `: ${e.error}` : ''}`;
    case 'execution-finished':
      return `execution ${e.executionId}: ${e.status}${e.error ? `: ${e.error}` : ''}`;
    case 'progress':
      return undefined;
  }
}

/**
 * Renders an execution's events on stderr: an ora line with progress and ETA on a
 * terminal, a line per step change otherwise (cron, logs), NDJSON with --json.
 */
export async function createExecutionReporter(ctx: CliContext): Promise<ExecutionReporter> {
  const { json, quiet } = ctx.options;
  if (json) return { onEvent: (e) => (quiet ? undefined : process.stderr.write(`${JSON.stringify(e)}\n`)), stop: () => undefined };
  if (ctx.fancy && !quiet) {
    const { default: ora } = await import('ora');
    const spinner = ora({ stream: process.stderr, text: 'starting' }).start();
    let progress = '';
    return {
      onEvent: (e) => {
        if (e.type === 'progress') {
          progress = `${e.progress}%${e.estimatedCompletion ? `, ETA ${shortTime(e.estimatedCompletion)}` : ''}${e.running.length ? ` — running ${e.running.join(', ')}` : ''}`;
          spinner.text = progress;
          return;
        }
        const text = describe(e);
        if (!text) return;
        if (e.type === 'step-finished') (e.status === 'succeeded' ? spinner.succeed(text) : spinner.fail(text)).start(progress);
        else if (e.type === 'rollback-step' || e.type === 'step-waiting-approval') spinner.warn(text).start(progress);
        else spinner.text = `${text}${progress ? ` — ${progress}` : ''}`;
      },
      stop: () => spinner.stop(),
    };
  }
  return {
    onEvent: (e) => {
      const text = describe(e);
      if (text && !quiet) process.stderr.write(`${text}\n`);
    },
    stop: () => undefined,
  };
}
