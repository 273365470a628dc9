import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { triggerSchema } from '../../../src/config/dr-schema.js';
import { createLogger } from '../../../src/core/logger.js';
import { narrowTrigger, type ConditionTrigger, type Firing } from '../../../src/dr/detectors/detector.js';
import { MetricDetector, type MetricsSource } from '../../../src/dr/detectors/metric-detector.js';
import { pause, waitFor } from './wait-for.js';

const INTERVAL_MS = 100;

function metricTrigger(input: Record<string, unknown>): ConditionTrigger {
  return narrowTrigger(triggerSchema.parse({ type: 'metric', ...input })) as ConditionTrigger;
}

describe('MetricDetector', () => {
  let server: Server;
  let base: string;
  /** What the exporter serves: the test changes it while the detector runs. */
  let errors = 5;
  let status = 200;
  /** The Prometheus server's answer: how many series match the query. */
  let series = 0;
  const queries: string[] = [];
  let controller: AbortController;
  let running: Promise<void> | undefined;
  let firings: Firing[];
  let warnings: string[];

  beforeEach(async () => {
    errors = 5;
    status = 200;
    series = 0;
    queries.length = 0;
    firings = [];
    warnings = [];
    running = undefined;
    controller = new AbortController();
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/api/v1/query') {
        queries.push(url.searchParams.get('query') ?? '');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: Array.from({ length: series }, (_, i) => ({ metric: { i: String(i) }, value: [0, '1'] })) } }));
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE http_errors_total counter\nhttp_errors_total{job="api"} ${errors}\nhttp_errors_total{job="web"} 50\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    controller.abort();
    await running;
    await new Promise((resolve) => server.close(resolve));
  });

  function start(t: ConditionTrigger, source: MetricsSource): MetricDetector {
    const log = createLogger('warn', (_level, message) => warnings.push(message));
    const detector = new MetricDetector('api-errors', `metric ${t.condition}`, t, source, log);
    running = detector.run((f) => firings.push(f), controller.signal);
    return detector;
  }

  it('fires once the value crosses the threshold, once per crossing', async () => {
    start(metricTrigger({ condition: 'http_errors_total{job="api"} > 10' }), { url: `${base}/metrics`, interval: INTERVAL_MS });
    await pause(4 * INTERVAL_MS);
    expect(firings).toEqual([]);

    errors = 11;
    await waitFor(() => firings.length === 1, 'the crossing to fire');
    expect(firings[0]!.detail).toBe('http_errors_total{job="api"} > 10: http_errors_total{job="api"} is 11');
    await pause(4 * INTERVAL_MS);
    expect(firings).toHaveLength(1);

    errors = 3;
    await pause(3 * INTERVAL_MS);
    errors = 12;
    await waitFor(() => firings.length === 2, 'the second crossing to fire');
  });

  it('fires only after the condition held for `for`, with failureAt at its first true scrape', async () => {
    start(metricTrigger({ condition: 'http_errors_total{job="api"} > 10', for: '600ms' }), { url: `${base}/metrics`, interval: INTERVAL_MS });
    await pause(2 * INTERVAL_MS);
    errors = 20;
    await pause(2 * INTERVAL_MS);
    errors = 1;
    await pause(8 * INTERVAL_MS);
    expect(firings).toEqual([]);

    errors = 20;
    await waitFor(() => firings.length === 1, 'the held condition to fire');
    expect(firings[0]!.at.getTime() - firings[0]!.failureAt.getTime()).toBeGreaterThanOrEqual(600);
  });

  it('logs a failed scrape and does not count it as true', async () => {
    status = 500;
    errors = 99;
    start(metricTrigger({ condition: 'http_errors_total > 10' }), { url: `${base}/metrics`, interval: INTERVAL_MS });
    await waitFor(() => warnings.length >= 2, 'a warning for the failed scrapes');
    expect(firings).toEqual([]);
    expect(warnings[0]).toMatch(/^scenario api-errors: GET http:\/\/127\.0\.0\.1:\d+\/metrics answered 500; the condition counts as not true$/);
    status = 200;
    await waitFor(() => firings.length === 1, 'the first good scrape to fire');
  });

  it('asks a Prometheus server with the condition as PromQL: a non-empty vector is true', async () => {
    const condition = 'rate(http_errors_total{job="api"}[5m]) > 1';
    const detector = start(metricTrigger({ condition }), { prometheus: `${base}/`, interval: INTERVAL_MS });
    await pause(3 * INTERVAL_MS);
    expect(firings).toEqual([]);
    expect(queries[0]).toBe(condition);
    series = 2;
    await waitFor(() => firings.length === 1, 'the non-empty result to fire');
    expect(await detector.once()).toMatchObject({ trigger: `metric ${condition}` });
    series = 0;
    expect(await detector.once()).toBeUndefined();
  });
});
