import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '../../../src/catalog/catalog.js';
import { monitoringSchema, scenarioSchema } from '../../../src/config/dr-schema.js';
import { ConfigError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { buildDetectors, type BuiltDetectors } from '../../../src/dr/detectors/build-detectors.js';
import type { Firing } from '../../../src/dr/detectors/detector.js';
import { resolveWebhookTokens, startExternalListener, type ExternalListener } from '../../../src/dr/detectors/external-listener.js';
import { makeTempDir } from '../../helpers/cli.js';
import { pause, waitFor } from './wait-for.js';

const TOKEN = 'hook-secret-1';

function alertmanagerPayload(alerts: { status: 'firing' | 'resolved'; alertname: string; startsAt: string }[]) {
  return {
    version: '4',
    status: 'firing',
    receiver: 'bkdr',
    groupKey: '{}:{alertname="DatabaseDown"}',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    truncatedAlerts: 0,
    alerts: alerts.map((a, i) => ({
      status: a.status,
      labels: { alertname: a.alertname, severity: 'critical' },
      annotations: { summary: 'down' },
      startsAt: a.startsAt,
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus/graph',
      fingerprint: `f${i}`,
    })),
  };
}

describe('external triggers over the webhook listener', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;
  let built: BuiltDetectors;
  let listener: ExternalListener;
  let controller: AbortController;
  let running: Promise<void>[];
  let firings: { scenarioId: string; f: Firing }[];

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-external-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
    const config = {
      monitoring: monitoringSchema.parse({ webhooks: { port: 0, token: TOKEN } }),
      scenarios: [
        scenarioSchema.parse({
          id: 'db-failure',
          name: 'DB',
          severity: 'critical',
          rto: 30,
          rpo: 5,
          affectedSystems: [],
          triggers: [{ type: 'alert', condition: 'DatabaseDown' }],
          recoveryPlans: ['p'],
        }),
        scenarioSchema.parse({
          id: 'site-loss',
          name: 'Site',
          severity: 'high',
          rto: 60,
          rpo: 15,
          affectedSystems: [],
          triggers: [{ type: 'external', condition: 'site_down' }],
          recoveryPlans: ['p'],
        }),
      ],
    };
    built = buildDetectors({ config, configDir: tmp.path, healthSamples: catalog.healthSamples, log: silentLogger });
    listener = await startExternalListener({ port: 0, handle: built.externalHandler! });
    controller = new AbortController();
    firings = [];
    running = built.detectors.map((d) => d.run((f) => firings.push({ scenarioId: d.scenarioId, f }), controller.signal));
  });
  afterEach(async () => {
    controller.abort();
    await Promise.all(running);
    await built.close();
    await listener.close();
    catalog.close();
    await tmp.cleanup();
  });

  const post = (path: string, body: unknown, token: string | null = TOKEN) =>
    fetch(`${listener.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('answers 401 without a token or with a wrong one, and fires nothing', async () => {
    for (const token of [null, 'wrong', `${TOKEN}x`]) {
      const res = await post('/hooks/trigger', { condition: 'site_down' }, token);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'a valid Authorization: Bearer token is required' });
    }
    expect((await fetch(`${listener.url}/hooks/nowhere`)).status).toBe(401);
    await pause(100);
    expect(firings).toEqual([]);
  });

  it('fires the scenario a /hooks/trigger request names', async () => {
    const res = await post('/hooks/trigger', { condition: 'site_down', reason: 'datacenter on fire' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: ['site_down'], ignored: [] });
    await waitFor(() => firings.length === 1, 'the external trigger to fire');
    expect(firings[0]).toMatchObject({ scenarioId: 'site-loss', f: { trigger: 'external site_down', detail: 'datacenter on fire' } });
  });

  it('fires the alertname of each firing Alertmanager alert, with failureAt at startsAt, and ignores resolved ones', async () => {
    const res = await post(
      '/hooks/alertmanager',
      alertmanagerPayload([
        { status: 'firing', alertname: 'DatabaseDown', startsAt: '2026-12-05T01:00:00.000Z' },
        { status: 'resolved', alertname: 'site_down', startsAt: '2026-12-05T00:00:00.000Z' },
      ]),
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: ['DatabaseDown'], ignored: [] });
    await waitFor(() => firings.length === 1, 'the alert to fire');
    expect(firings[0]!.scenarioId).toBe('db-failure');
    expect(firings[0]!.f.failureAt.toISOString()).toBe('2026-12-05T01:00:00.000Z');
    expect(firings[0]!.f.detail).toBe('Alertmanager alert DatabaseDown firing via receiver bkdr (fingerprint f0)');

    const resolved = await post('/hooks/alertmanager', alertmanagerPayload([{ status: 'resolved', alertname: 'DatabaseDown', startsAt: '2026-12-05T01:00:00.000Z' }]));
    expect(await resolved.json()).toEqual({ accepted: [], ignored: [] });
    await pause(100);
    expect(firings).toHaveLength(1);
  });

  it('rejects bad JSON, other payloads, other methods and oversized bodies', async () => {
    expect((await post('/hooks/alertmanager', '{not json')).status).toBe(400);
    expect((await post('/hooks/alertmanager', { ...alertmanagerPayload([]), version: '3' })).status).toBe(400);
    expect((await post('/hooks/trigger', { reason: 'no condition' })).status).toBe(400);
    expect((await fetch(`${listener.url}/hooks/trigger`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
    expect((await post('/elsewhere', {})).status).toBe(404);
    expect((await post('/hooks/trigger', 'x'.repeat(1024 * 1024 + 1))).status).toBe(413);
    expect(firings).toEqual([]);
  });
});

describe('resolveWebhookTokens', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => (tmp = await makeTempDir('bkdr-webhook-tokens-')));
  afterEach(() => tmp.cleanup());

  it('takes the token file of monitoring.webhooks, trimmed and relative to the config', async () => {
    await writeFile(join(tmp.path, 'hook.token'), '  s3cret\n');
    expect(resolveWebhookTokens({ monitoring: { webhooks: { port: 0, tokenFile: 'hook.token' } } }, tmp.path)).toEqual(['s3cret']);
    expect(resolveWebhookTokens({ monitoring: { webhooks: { port: 0, token: 'inline' } } }, tmp.path)).toEqual(['inline']);
  });

  it('falls back to the serve tokens with role operate', async () => {
    await writeFile(join(tmp.path, 'ops.token'), 'ops\n');
    const serve = {
      tokens: [
        { name: 'dash', role: 'read' as const, token: 'reader' },
        { name: 'ops', role: 'operate' as const, tokenFile: 'ops.token' },
        { name: 'bot', role: 'operate' as const, token: 'bot' },
      ],
    };
    expect(resolveWebhookTokens({ monitoring: { webhooks: { port: 0 } }, serve }, tmp.path)).toEqual(['ops', 'bot']);
  });

  it('requires a token', () => {
    const serve = { tokens: [{ name: 'dash', role: 'read' as const, token: 'reader' }] };
    expect(() => resolveWebhookTokens({ monitoring: { webhooks: { port: 0 } }, serve }, tmp.path)).toThrow(ConfigError);
    expect(() => resolveWebhookTokens({}, tmp.path)).toThrow(/monitoring\.webhooks: a token is required/);
  });
});
