import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '../../../src/catalog/catalog.js';
import { monitoringSchema, scenarioSchema } from '../../../src/config/dr-schema.js';
import { ConfigError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { buildDetectors, type DetectorsConfig } from '../../../src/dr/detectors/build-detectors.js';
import { makeTempDir } from '../../helpers/cli.js';

function config(triggers: unknown[], monitoring: Record<string, unknown> = {}): DetectorsConfig {
  return {
    monitoring: monitoringSchema.parse(monitoring),
    scenarios: [scenarioSchema.parse({ id: 'db-failure', name: 'DB', severity: 'critical', rto: 30, rpo: 5, affectedSystems: [], triggers, recoveryPlans: ['p'] })],
  };
}

describe('buildDetectors', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-build-detectors-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  const build = (c: DetectorsConfig) => buildDetectors({ config: c, configDir: tmp.path, healthSamples: catalog.healthSamples, log: silentLogger });

  it('makes one detector per trigger, named by a one-line trigger', async () => {
    const built = build(
      config(
        [
          { type: 'log', condition: 'ERROR.*database.*corruption', count: 3, within: '1m' },
          { type: 'metric', condition: 'pg_up == 0', for: '30s' },
          { type: 'health', condition: 'database_health == false' },
          { type: 'health_check', condition: '!database_health' },
          { type: 'alert', condition: 'DatabaseDown' },
        ],
        {
          logs: { app: ['/var/log/app.log'], db: ['/var/log/postgresql/*.log'] },
          metrics: { url: 'http://127.0.0.1:9187/metrics' },
          healthChecks: { database_health: { type: 'tcp', target: '127.0.0.1:5432' } },
          webhooks: { port: 0, token: 't' },
        },
      ),
    );
    expect(built.detectors.map((d) => [d.scenarioId, d.trigger])).toEqual([
      ['db-failure', 'log ERROR.*database.*corruption in /var/log/app.log, /var/log/postgresql/*.log 3 times within 60s'],
      ['db-failure', 'metric pg_up == 0 for 30s'],
      ['db-failure', 'health_check database_health == false'],
      ['db-failure', 'health_check !database_health'],
      ['db-failure', 'external DatabaseDown'],
    ]);
    expect(built.externalHandler).toBeDefined();
    await built.close();
  });

  it('has no external handler without external triggers, and then needs no token', async () => {
    const built = build(config([{ type: 'log', condition: 'x', paths: ['a.log'] }]));
    expect(built.externalHandler).toBeUndefined();
    await built.close();
  });

  it.each([
    [[{ type: 'log', condition: 'x' }], {}, 'scenarios[0].triggers[0].paths: a log trigger needs paths, or globs in monitoring.logs'],
    [[{ type: 'metric', condition: 'up == 0' }], {}, 'scenarios[0].triggers[0]: a metric trigger needs monitoring.metrics (url or prometheus)'],
    [[{ type: 'metric', condition: 'up is down' }], { metrics: { url: 'http://x/metrics' } }, "scenarios[0].triggers[0].condition: 'up is down' is not"],
    [[{ type: 'health_check', condition: 'db == false' }], {}, 'scenarios[0].triggers[0].condition: no health check db in monitoring.healthChecks'],
    [[{ type: 'external', condition: 'x' }], {}, 'monitoring.webhooks: a token is required'],
  ])('rejects a trigger that cannot work: %j', (triggers, monitoring, message) => {
    const err = (() => {
      try {
        build(config(triggers, monitoring));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(message);
  });
});
