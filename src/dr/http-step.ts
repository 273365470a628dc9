import { OperationError } from '../core/errors.js';
import { abortReason, type StepExecutor, type StepOfType, type StepOutcome } from './step-executor.js';

export type HttpStep = StepOfType<'http'>;

/** The most of a response body kept for the outcome or the failure. */
const BODY_CHARS = 4_096;

function statusExpected(status: number, expect: HttpStep['expectStatus']): boolean {
  if (expect === undefined) return status >= 200 && status < 300;
  return Array.isArray(expect) ? expect.includes(status) : status === expect;
}

function describeExpected(expect: HttpStep['expectStatus']): string {
  if (expect === undefined) return '2xx';
  return Array.isArray(expect) ? expect.join(' or ') : String(expect);
}

/** The low-level reason fetch hides in `cause` ('connect ECONNREFUSED 127.0.0.1:9'). */
function reason(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * One HTTP request (`method`, default GET; `headers`; `body`). Succeeds when the status is
 * `expectStatus` (a status or a list), by default any 2xx. The signal bounds it: the step
 * runner aborts it on the step's timeout.
 */
export const httpStep: StepExecutor<HttpStep> = {
  async run(step: HttpStep, _ctx, signal: AbortSignal): Promise<StepOutcome> {
    const method = step.method ?? 'GET';
    let response: Response;
    let body: string;
    try {
      response = await fetch(step.url, { method, ...(step.headers ? { headers: step.headers } : {}), ...(step.body !== undefined ? { body: step.body } : {}), signal });
      body = (await response.text()).slice(0, BODY_CHARS);
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      throw new OperationError(`${method} ${step.url}: ${reason(err)}`, { cause: err });
    }
    if (!statusExpected(response.status, step.expectStatus)) {
      const firstLine = body.trim().split(/\r?\n/, 1)[0]?.slice(0, 200);
      throw new OperationError(`${method} ${step.url} answered ${response.status}, expected ${describeExpected(step.expectStatus)}${firstLine ? `: ${firstLine}` : ''}`);
    }
    return { detail: `${method} ${step.url} answered ${response.status}`, output: { status: response.status, body } };
  },
};
