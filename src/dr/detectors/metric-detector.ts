import { deadlineSignal, untilAborted } from '../../core/deadline-signal.js';
import { ConfigError, OperationError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { sleep } from './abortable-sleep.js';
import type { ConditionTrigger, Detector, Firing } from './detector.js';
import { findMatchingSample, parseMetricCondition, parsePrometheusText, type MetricCondition } from './metric-condition.js';

export const DEFAULT_METRICS_INTERVAL_MS = 15_000;
/** A scrape takes at most this long, or the interval if shorter, so a hung exporter does not stall the loop. */
const SCRAPE_TIMEOUT_MS = 10_000;

/** Where the values come from: an exposition endpoint bkdr scrapes, or a Prometheus server bkdr asks with the condition as PromQL. */
export type MetricsSource = { url: string; interval?: number | undefined } | { prometheus: string; interval?: number | undefined };

type Evaluation = { ok: true; holds: boolean; detail: string } | { ok: false; error: string };

function reason(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * A metric trigger: scrapes every `interval` (default 15 s) and fires when the condition
 * has held on every scrape for the trigger's `for` (default 0: the first true scrape).
 * A failed scrape is logged and counts as not true, which also restarts the `for` clock:
 * an unreachable exporter is no evidence that the value is still above the threshold.
 */
export class MetricDetector implements Detector {
  private readonly condition: MetricCondition | undefined;
  private readonly interval: number;

  constructor(
    readonly scenarioId: string,
    readonly trigger: string,
    private readonly t: ConditionTrigger,
    private readonly source: MetricsSource,
    private readonly log: Logger,
    where = 'trigger',
  ) {
    this.interval = source.interval ?? DEFAULT_METRICS_INTERVAL_MS;
    if ('url' in source) {
      try {
        this.condition = parseMetricCondition(t.condition);
      } catch (err) {
        throw new ConfigError(`${where}.condition`, (err as Error).message, { cause: err });
      }
    }
  }

  async run(fire: (f: Firing) => void, signal: AbortSignal): Promise<void> {
    const holdFor = this.t.for ?? 0;
    let since: Date | undefined;
    let fired = false;
    while (!signal.aborted) {
      const started = Date.now();
      const result = await this.evaluate(signal);
      if (signal.aborted) return;
      const now = new Date();
      if (!result.ok) this.log.warn(`scenario ${this.scenarioId}: ${result.error}; the condition counts as not true`);
      if (result.ok && result.holds) {
        since ??= now;
        if (!fired && now.getTime() - since.getTime() >= holdFor) {
          fired = true;
          fire({ trigger: this.trigger, at: now, failureAt: since, detail: result.detail });
        }
      } else {
        since = undefined;
        fired = false;
      }
      await sleep(this.interval - (Date.now() - started), signal);
    }
  }

  /** One scrape; `for` cannot be judged from one look, so a true condition fires at once. */
  async once(): Promise<Firing | undefined> {
    const result = await this.evaluate(new AbortController().signal);
    if (!result.ok) throw new OperationError(result.error);
    if (!result.holds) return undefined;
    const now = new Date();
    return { trigger: this.trigger, at: now, failureAt: now, detail: result.detail };
  }

  private async evaluate(signal: AbortSignal): Promise<Evaluation> {
    const url = 'url' in this.source ? this.source.url : `${this.source.prometheus.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(this.t.condition)}`;
    let response: { ok: boolean; status: number; body: string };
    const deadline = deadlineSignal(signal, Math.min(this.interval, SCRAPE_TIMEOUT_MS));
    try {
      response = await untilAborted(scrape(url, deadline.signal), deadline.signal);
    } catch (err) {
      return { ok: false, error: `GET ${url}: ${reason(err)}` };
    } finally {
      deadline.clear();
    }
    const { body } = response;
    // Prometheus answers a bad query with 400 (422, 503 for one that fails to run) and says why in its JSON: read on.
    if (!response.ok && (this.condition || !body.trimStart().startsWith('{'))) return { ok: false, error: `GET ${url} answered ${response.status}` };
    if (this.condition) {
      const sample = findMatchingSample(this.condition, parsePrometheusText(body));
      return { ok: true, holds: sample !== undefined, detail: sample ? `${this.t.condition}: ${sample.name}${formatLabels(sample.labels)} is ${sample.value}` : '' };
    }
    return promQueryResult(url, body);
  }
}

async function scrape(url: string, signal: AbortSignal): Promise<{ ok: boolean; status: number; body: string }> {
  const response = await fetch(url, { signal });
  return { ok: response.ok, status: response.status, body: await response.text() };
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

/** Prometheus answers `{status, data: {resultType, result: [...]}}`: a non-empty vector means the condition holds. */
function promQueryResult(url: string, body: string): Evaluation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, error: `GET ${url} did not answer JSON` };
  }
  const p = parsed as { status?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } };
  if (p.status !== 'success') return { ok: false, error: `Prometheus query failed: ${typeof p.error === 'string' ? p.error : 'status not success'}` };
  // A scalar or string answers [time, "value"]: two elements, but no series, and "0" is not true.
  if (p.data?.resultType !== 'vector' && p.data?.resultType !== 'matrix')
    return { ok: false, error: `Prometheus answered a ${String(p.data?.resultType)}, not a vector: the condition must select series` };
  const result = p.data.result;
  if (!Array.isArray(result)) return { ok: false, error: `GET ${url}: the answer holds no result vector` };
  return { ok: true, holds: result.length > 0, detail: `Prometheus returned ${result.length} series for the query` };
}
