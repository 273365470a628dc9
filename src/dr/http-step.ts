import { urlForMessages } from '../core/url-for-messages.js';
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
 * The URL fetch is given and the headers that go with it: credentials in the URL
 * (`https://user:pass@host/health`) travel as Basic authorization, which fetch will not
 * take from a URL, unless the step sets its own Authorization header.
 */
function requestOf(step: HttpStep): { url: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { ...(step.headers ?? {}) };
  let parsed: URL;
  try {
    parsed = new URL(step.url);
  } catch {
    return { url: step.url, headers };
  }
  if (parsed.username === '' && parsed.password === '') return { url: step.url, headers };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) headers['authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString(), headers };
}

/**
 * One HTTP request (`method`, default GET; `headers`; `body`). Succeeds when the status is
 * `expectStatus` (a status or a list), by default any 2xx. The signal bounds it: the step
 * runner aborts it on the step's timeout.
 */
export const httpStep: StepExecutor<HttpStep> = {
  async run(step: HttpStep, _ctx, signal: AbortSignal): Promise<StepOutcome> {
    const method = step.method ?? 'GET';
    const shown = urlForMessages(step.url, { path: true });
    const request = requestOf(step);
    let response: Response;
    let body: string;
    try {
      response = await fetch(request.url, { method, headers: request.headers, ...(step.body !== undefined ? { body: step.body } : {}), signal });
      body = (await response.text()).slice(0, BODY_CHARS);
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      // fetch's own messages may quote the whole URL.
      throw new OperationError(`${method} ${shown}: ${reason(err).replaceAll(request.url, shown).replaceAll(step.url, shown)}`, { cause: err });
    }
    if (!statusExpected(response.status, step.expectStatus)) {
      const firstLine = body.trim().split(/\r?\n/, 1)[0]?.slice(0, 200);
      throw new OperationError(`${method} ${shown} answered ${response.status}, expected ${describeExpected(step.expectStatus)}${firstLine ? `: ${firstLine}` : ''}`);
    }
    return { detail: `${method} ${shown} answered ${response.status}`, output: { status: response.status, body } };
  },
};
