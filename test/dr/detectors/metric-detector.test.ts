import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { triggerSchema } from '../../../src/config/dr-schema.js';
import { createLogger } from '../../../src/core/logger.js';
import { narrowTrigger, type ConditionTrigger, type Firing } from '../../../src/dr/detectors/detector.js';
import { MetricDetector, type MetricsSource } from '../../../src/dr/detectors/metric-detector.js';
import { prometheusAvailable, type PrometheusServer, startPrometheus } from '../../helpers/prometheus-server.js';
import { pause, waitFor } from './wait-for.js';

if (!prometheusAvailable && process.env['CI']) throw new Error('CI must install prometheus for the PromQL trigger tests');

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
  let controller: AbortController;
  let running: Promise<void> | undefined;
  let firings: Firing[];
  let warnings: string[];

  beforeEach(async () => {
    errors = 5;
    status = 200;
    firings = [];
    warnings = [];
    running = undefined;
    controller = new AbortController();
    server = createServer((req, res) => {
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
});

/**
 * PromQL mode against a real Prometheus server: it scrapes the test's exporter every second,
 * and the detector asks it `/api/v1/query` with the condition.
 */
describe.skipIf(!prometheusAvailable)('MetricDetector against a Prometheus server', () => {
  let exporter: Server;
  let prometheus: PrometheusServer | undefined;
  /** What the exporter serves: the test changes it while Prometheus scrapes. */
  let failures = 5;
  let scrapes = 0;
  /** How many scrapes the exporter had served when each firing came. */
  let scrapesAtFiring: number[];
  let controller: AbortController;
  let running: Promise<void> | undefined;
  let firings: Firing[];
  let warnings: string[];

  beforeAll(async () => {
    exporter = createServer((_req, res) => {
      scrapes++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE db_connection_failures gauge\ndb_connection_failures ${failures}\n`);
    });
    await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
    prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${(exporter.address() as AddressInfo).port}`], scrapeInterval: '1s' });
  }, 40_000);
  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => exporter.close(resolve));
  });
  beforeEach(() => {
    failures = 5;
    firings = [];
    scrapesAtFiring = [];
    warnings = [];
    running = undefined;
    controller = new AbortController();
  });
  afterEach(async () => {
    controller.abort();
    await running;
  });

  function start(condition: string): MetricDetector {
    const t = metricTrigger({ condition });
    const log = createLogger('warn', (_level, message) => warnings.push(message));
    const detector = new MetricDetector('db-down', `metric ${condition}`, t, { prometheus: `${prometheus!.url}/`, interval: 200 }, log);
    running = detector.run((f) => {
      firings.push(f);
      scrapesAtFiring.push(scrapes);
    }, controller.signal);
    return detector;
  }

  /** What Prometheus itself holds for the query: proof that a scrape reached it, independent of the detector. */
  async function instant(query: string): Promise<string[]> {
    const response = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent(query)}`);
    const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
    return body.data.result.map((r) => r.value[1]);
  }

  /** Waits until Prometheus answers `value` for the gauge: a scrape of it has been stored. */
  async function untilStored(value: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await instant('db_connection_failures')).includes(value)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for Prometheus to store db_connection_failures ${value}`);
      await pause(100);
    }
  }

  it('fires once Prometheus has scraped a value above the threshold, not before', async () => {
    const condition = 'db_connection_failures > 10';
    // Prometheus holds the low value before the detector starts: the detector's empty answers are real ones.
    // Its discovery hands the static target to the scraper about 5 s after start, so the first scrape comes late.
    await waitFor(() => scrapes >= 1, 'Prometheus to scrape the exporter', 20_000);
    await untilStored('5');
    const detector = start(condition);
    const before = scrapes;
    await waitFor(() => scrapes >= before + 3, 'three more scrapes of the low value', 10_000);
    expect(firings).toEqual([]);
    expect(warnings).toEqual([]);

    failures = 11;
    const raisedAt = scrapes;
    await waitFor(() => firings.length === 1, 'the scraped crossing to fire', 10_000);
    expect(scrapesAtFiring[0]).toBeGreaterThan(raisedAt);
    expect(firings[0]).toMatchObject({ trigger: `metric ${condition}`, detail: 'Prometheus returned 1 series for the query' });
    expect(await instant('db_connection_failures')).toEqual(['11']);
    expect(await detector.once()).toMatchObject({ trigger: `metric ${condition}` });

    failures = 2;
    await untilStored('2');
    expect(await detector.once()).toBeUndefined();
    expect(firings).toHaveLength(1);
    expect(warnings).toEqual([]);
  }, 60_000);

  it('reports a query Prometheus rejects, and a scalar answer, as errors rather than as true', async () => {
    const bad = new MetricDetector(
      'db-down',
      'metric bad',
      metricTrigger({ condition: 'db_connection_failures >' }),
      { prometheus: prometheus!.url },
      createLogger('warn', () => {}),
    );
    await expect(bad.once()).rejects.toThrow(/^Prometheus query failed: invalid parameter "query": .*parse error/);
    // `> bool` on a scalar answers [time, "0"]: two elements, which once counted as two series.
    const scalar = new MetricDetector(
      'db-down',
      'metric scalar',
      metricTrigger({ condition: 'scalar(db_connection_failures) > bool 10' }),
      { prometheus: prometheus!.url },
      createLogger('warn', () => {}),
    );
    await expect(scalar.once()).rejects.toThrow('Prometheus answered a scalar, not a vector: the condition must select series');
  });
});
