import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupManager } from '../../src/backup/backup-manager.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import type { BkdrConfig } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { collectMetrics } from '../../src/server/metrics.js';
import { makeTempDir } from '../helpers/cli.js';

/** promtool ships with Debian's prometheus package. */
const PROMTOOL = '/usr/bin/promtool';
const promtoolAvailable = existsSync(PROMTOOL);
if (!promtoolAvailable && process.env['CI']) throw new Error('CI must install prometheus (promtool) for the /metrics lint test');

/** The value of one sample line `name{labels} value` in the exposition, or undefined. */
function sample(body: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = body.split('\n').find((l) => l.startsWith(`${name}{${wanted}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('collectMetrics from real backup runs (in-process)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let catalog: Catalog;
  let config: BkdrConfig;
  let body: string;
  let contentType: string;

  beforeAll(async () => {
    dir = await makeTempDir('bkdr-metrics-');
    const data = join(dir.path, 'data');
    await mkdir(data);
    await writeFile(join(data, 'a.txt'), 'hello metrics\n');
    const configPath = join(dir.path, 'backup.config.json');
    config = validateConfig(
      {
        sources: { files: { type: 'files', paths: [data] } },
        destinations: [{ name: 'local', type: 'local', config: { path: join(dir.path, 'repo') } }],
        catalog: { path: join(dir.path, 'catalog.db') },
      },
      configPath,
    );
    catalog = openCatalog(join(dir.path, 'catalog.db'));
    const manager = new BackupManager({ config, configPath, catalog, password: () => Promise.resolve('test-password') });
    for (const run of [1, 2]) {
      await writeFile(join(data, 'b.txt'), `run ${run}\n`);
      expect((await manager.createBackup('files', { destinations: ['local'] })).status).toBe('succeeded');
    }
    ({ body, contentType } = await collectMetrics({ config, catalog }));
  });

  afterAll(async () => {
    catalog?.close();
    await dir?.cleanup();
  });

  it('serves the Prometheus text format', () => {
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it("the last-success timestamp of source files is its newest backup's time in the catalog, in seconds", () => {
    const backups = catalog.backups.list({ source: 'files', destination: 'local' });
    expect(backups).toHaveLength(2);
    const newest = Math.max(...backups.map((b) => Date.parse(b.time)));
    expect(sample(body, 'bkdr_backup_last_success_timestamp_seconds', { source: 'files', destination: 'local' })).toBe(newest / 1000);
    const newestRecord = backups.find((b) => Date.parse(b.time) === newest)!;
    expect(sample(body, 'bkdr_backup_bytes', { source: 'files', destination: 'local' })).toBe(newestRecord.bytes);
  });

  it('counts the two backup runs and times the last one', () => {
    expect(sample(body, 'bkdr_backup_runs', { source: 'files', status: 'succeeded' })).toBe(2);
    const duration = sample(body, 'bkdr_backup_last_run_duration_seconds', { source: 'files' });
    expect(duration).toBeGreaterThanOrEqual(0);
    expect(duration).toBeLessThan(600);
  });

  it('reports the measured backup success rate KPI as a ratio, and process metrics', () => {
    expect(sample(body, 'bkdr_kpi_value', { kpi: 'backup_success_rate' })).toBe(1);
    expect(body).toMatch(/^process_cpu_user_seconds_total \d/m);
  });

  it('a second scrape builds a fresh registry: same series, no duplicate registration', async () => {
    const again = await collectMetrics({ config, catalog });
    expect(sample(again.body, 'bkdr_backup_runs', { source: 'files', status: 'succeeded' })).toBe(2);
  });

  it.skipIf(!promtoolAvailable)('passes promtool check metrics without a lint problem', () => {
    const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });
});
