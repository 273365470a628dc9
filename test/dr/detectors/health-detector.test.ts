import { rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '../../../src/catalog/catalog.js';
import { healthCheckSchema } from '../../../src/config/dr-schema.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { Firing } from '../../../src/dr/detectors/detector.js';
import { parseHealthCondition } from '../../../src/dr/detectors/health-condition.js';
import { HealthDetector } from '../../../src/dr/detectors/health-detector.js';
import { HealthSampler } from '../../../src/dr/detectors/health-sampler.js';
import { makeTempDir } from '../../helpers/cli.js';
import { collectGarbage } from '../../helpers/collect-garbage.js';
import { waitFor } from './wait-for.js';

describe('parseHealthCondition', () => {
  it.each([
    ['database_health == false', { check: 'database_health', firesWhen: 'down' }],
    ['!database_health', { check: 'database_health', firesWhen: 'down' }],
    ['  db ==false ', { check: 'db', firesWhen: 'down' }],
    ['database_health == true', { check: 'database_health', firesWhen: 'up' }],
    ['database_health', { check: 'database_health', firesWhen: 'up' }],
  ])('%s', (text, expected) => expect(parseHealthCondition(text)).toEqual(expected));

  it.each(['', 'db == 0', '!db == false', 'db != false', '1db', 'db health'])('rejects %j', (text) => expect(() => parseHealthCondition(text)).toThrow());
});

describe('HealthDetector', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;
  let controller: AbortController;
  const running: Promise<void>[] = [];
  const samplers: HealthSampler[] = [];

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-health-detector-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
    controller = new AbortController();
  });
  afterEach(async () => {
    controller.abort();
    await Promise.all(running.splice(0));
    await Promise.all(samplers.splice(0).map((s) => s.stop()));
    catalog.close();
    await tmp.cleanup();
  });

  function sampler(name: string, check: Record<string, unknown>): HealthSampler {
    const s = new HealthSampler(name, healthCheckSchema.parse(check), catalog.healthSamples, silentLogger);
    samplers.push(s);
    return s;
  }

  function run(detector: HealthDetector, into: Firing[]): void {
    running.push(detector.run((f) => into.push(f), controller.signal));
  }

  it('fires when a TCP check fails `failures` times in a row, with every sample in the catalog', async () => {
    const server: Server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const shared = sampler('database_health', { type: 'tcp', target, interval: '100ms', timeout: '500ms', failures: 3 });
    const firings: Firing[] = [];
    const alsoFirings: Firing[] = [];
    run(new HealthDetector('db-failure', 'health_check database_health == false', parseHealthCondition('database_health == false'), shared), firings);
    run(new HealthDetector('db-replica', 'health_check !database_health', parseHealthCondition('!database_health'), shared), alsoFirings);

    await waitFor(() => catalog.healthSamples.recent('database_health').filter((s) => s.ok).length >= 2, 'passing samples');
    expect(firings).toEqual([]);
    await new Promise((resolve) => server.close(resolve));

    await waitFor(() => firings.length === 1 && alsoFirings.length === 1, 'the down edge to fire both triggers');
    const samples = catalog.healthSamples.recent('database_health').reverse();
    const firstFailed = samples.find((s) => !s.ok)!;
    expect(firings[0]!.failureAt.toISOString()).toBe(firstFailed.at);
    expect(firings[0]!.trigger).toBe('health_check database_health == false');
    expect(firings[0]!.detail).toMatch(/^health check database_health is down: 3 consecutive failed samples; last: cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED$/);
    // One sampler for both triggers: one series of samples, one per interval, not two.
    const failedBeforeFiring = samples.filter((s) => !s.ok && Date.parse(s.at) <= firings[0]!.at.getTime());
    expect(failedBeforeFiring).toHaveLength(3);
    expect(catalog.healthSamples.availability({ from: new Date(Date.parse(samples[0]!.at)), check: 'database_health' }).percent).toBeLessThan(100);
  });

  it('fires once per outage: it stays down without firing again, and fires anew after recovering', async () => {
    const flag = join(tmp.path, 'healthy');
    const check = sampler('app', { type: 'command', command: `test -e '${flag}'`, interval: '100ms', failures: 2 });
    const firings: Firing[] = [];
    run(new HealthDetector('app-down', 'health_check app == false', parseHealthCondition('app == false'), check), firings);
    await waitFor(() => firings.length === 1, 'the first outage');
    await writeFile(flag, '');
    await waitFor(() => catalog.healthSamples.recent('app', 1)[0]?.ok === true, 'recovery');
    expect(firings).toHaveLength(1);
    await rm(flag);
    await waitFor(() => firings.length === 2, 'the second outage');
  });

  it('fails a command that outlives its timeout, and a sql check without a database client', async () => {
    const slow = sampler('slow', { type: 'command', command: 'sleep 5', timeout: '200ms' });
    const result = await slow.sampleOnce();
    expect(result).toMatchObject({ ok: false, detail: 'no answer within 200 ms' });
    const sql = sampler('sql', { type: 'sql', url: 'postgres://localhost/x' });
    const detector = new HealthDetector('db', 'health_check sql == false', parseHealthCondition('sql == false'), sql);
    const f = await detector.once();
    expect(f?.detail).toBe('health check sql is down: sql health checks need a database client, and none is wired into this process');
    expect(catalog.healthSamples.recent('sql')).toHaveLength(1);
  });

  it('fails an http check whose server takes the request and never answers, at its timeout, whatever the collector does meanwhile', async () => {
    // A server stopped mid-request (the chaos test's kill): before, a collection could take the timeout and the probe hung.
    const server = createHttpServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
      const hung = sampler('hung', { type: 'http', url, timeout: '300ms' });
      const sample = hung.sampleOnce();
      await new Promise((resolve) => setTimeout(resolve, 50));
      collectGarbage();
      expect(await sample).toMatchObject({ ok: false, detail: 'no answer within 300 ms' });
      expect(catalog.healthSamples.recent('hung')).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('probes an http check, and fires `name == true` when it is up', async () => {
    const server = createHttpServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
      const up = sampler('web', { type: 'http', url, interval: '100ms' });
      const firings: Firing[] = [];
      run(new HealthDetector('web-back', 'health_check web', parseHealthCondition('web'), up), firings);
      await waitFor(() => firings.length === 1, 'the up edge');
      expect(firings[0]!.detail).toBe(`health check web is up: GET ${url} answered 200`);
      expect(await sampler('web404', { type: 'http', url, expectStatus: 404 }).sampleOnce()).toMatchObject({ ok: false, detail: `GET ${url} answered 200, expected 404` });
    } finally {
      controller.abort();
      await Promise.all(running.splice(0));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
