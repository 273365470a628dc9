import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupManager } from '../../src/backup/backup-manager.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import type { BkdrConfig } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { KPI_NAMES } from '../../src/config/dr-schema.js';
import { silentLogger } from '../../src/core/logger.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import { type Kpi, measureKpis, statusOf } from '../../src/continuity/kpis.js';
import { DisasterRecoveryOrchestrator } from '../../src/dr/disaster-recovery-orchestrator.js';
import { makeTempDir } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const HOUR_MS = 3_600_000;

describe('KPIs measured from real backup runs (in-process)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let catalog: Catalog;
  let config: BkdrConfig;
  let configPath: string;
  let manager: BackupManager;
  const statuses: string[] = [];

  const ctxAt = (now: Date): ContinuityContext => ({ config, configDir: dir.path, catalog, logger: silentLogger, now: () => now });
  const kpi = (ctx: ContinuityContext, name: Kpi['name']): Kpi => measureKpis(ctx).kpis.find((k) => k.name === name)!;

  beforeAll(async () => {
    dir = await makeTempDir('bkdr-kpis-');
    const data = join(dir.path, 'data');
    await mkdir(data);
    await writeFile(join(data, 'a.txt'), 'hello kpis\n');
    // `broken`'s path is a FILE: its repository can never be created, so every backup to it fails.
    const notADir = join(dir.path, 'not-a-dir');
    await writeFile(notADir, 'a file where a repository should go\n');
    configPath = join(dir.path, 'backup.config.json');
    config = validateConfig(
      {
        sources: { files: { type: 'files', paths: [data] } },
        destinations: [
          { name: 'good', type: 'local', config: { path: join(dir.path, 'repo') } },
          { name: 'broken', type: 'local', config: { path: notADir } },
        ],
        catalog: { path: join(dir.path, 'catalog.db') },
      },
      configPath,
    );
    catalog = openCatalog(join(dir.path, 'catalog.db'));
    manager = new BackupManager({ config, configPath, catalog, password: () => Promise.resolve('test-password') });
    // Five real runs: good, good, broken only (failed), both (partial: good written, broken not), good.
    for (const destinations of [['good'], ['good'], ['broken'], ['good', 'broken'], ['good']]) {
      await writeFile(join(data, 'b.txt'), `run ${statuses.length}\n`);
      statuses.push((await manager.createBackup('files', { destinations })).status);
    }
    // A dry run is recorded as a backup run but writes nothing: it must not count.
    await manager.createBackup('files', { destinations: ['good'], dryRun: true });
    await manager.verifyBackups({ destinations: ['good'], readDataPercent: 100 });
  });

  afterAll(async () => {
    catalog?.close();
    await dir?.cleanup();
  });

  it('the runs against the unreachable destination failed or were partial', () => {
    expect(statuses).toEqual(['succeeded', 'succeeded', 'failed', 'partial', 'succeeded']);
  });

  it('measures every KPI in KPI_NAMES order with its unit and direction', () => {
    const result = measureKpis(ctxAt(new Date()));
    expect(result.kpis.map((k) => k.name)).toEqual([...KPI_NAMES]);
    for (const k of result.kpis) {
      expect(['%', 'minutes', 'hours']).toContain(k.unit);
      expect(k.detail).toMatch(/\S/);
      if (k.status === 'no-data') expect(k.value).toBeNull();
    }
  });

  it('backup_success_rate: a partial run counts as failed, a dry run not at all; 3 of 5 runs succeeded = 60 %, critical under the default 95 %', () => {
    const k = kpi(ctxAt(new Date()), 'backup_success_rate');
    // Hand computation: runs 1, 2 and 5 succeeded; run 3 failed and run 4 was partial; the dry run is left out: 3 / 5 × 100 = 60.
    expect(k.value).toBeCloseTo(60, 10);
    expect(k.samples).toBe(5);
    expect(k.detail).toBe('3 of 5 backup runs in 30 days succeeded');
    expect(k.status).toBe('critical');
    expect(k).toMatchObject({ unit: '%', direction: 'higher-better', target: 99.5, warning: 99.5, critical: 95 });
  });

  it('backup_success_rate takes its thresholds from kpiThresholds', () => {
    const lenient = validateConfig({ ...config, kpiThresholds: { backup_success_rate: { warning: 70, critical: 50 } } }, configPath);
    const k = kpi({ ...ctxAt(new Date()), config: lenient }, 'backup_success_rate');
    expect(k).toMatchObject({ warning: 70, critical: 50, status: 'warning' });
  });

  it('backup_success_rate is no-data once the runs are older than 30 days (the clock is faked via ctx.now)', () => {
    // Fake clock: 31 days from now, every run of this test is out of the window.
    const k = kpi(ctxAt(new Date(Date.now() + 31 * 24 * HOUR_MS)), 'backup_success_rate');
    expect(k).toMatchObject({ status: 'no-data', value: null, samples: 0 });
  });

  it('hours_since_last_backup: per source, from the newest successful backup (the clock is faked via ctx.now: 2 h later)', () => {
    const newest = catalog.backups.list({ source: 'files' })[0]!;
    const now = new Date(Date.parse(newest.time) + 2 * HOUR_MS);
    const k = kpi(ctxAt(now), 'hours_since_last_backup');
    expect(k.value).toBeCloseTo(2, 10);
    expect(k.status).toBe('ok');
    expect(k.perItem).toEqual([expect.objectContaining({ name: 'files', value: k.value, samples: 1 })]);
    // 49 h later it is past the default critical of 48 h.
    expect(kpi(ctxAt(new Date(Date.parse(newest.time) + 49 * HOUR_MS)), 'hours_since_last_backup').status).toBe('critical');
  });

  it('hours_since_last_backup: a configured source never backed up makes it critical, whatever the others', () => {
    const withNew = validateConfig({ ...config, sources: { ...config.sources, added: { type: 'files', paths: [dir.path] } } }, configPath);
    const k = kpi({ ...ctxAt(new Date()), config: withNew }, 'hours_since_last_backup');
    expect(k.status).toBe('critical');
    expect(k.detail).toMatch(/^never backed up: added; /);
    expect(k.perItem?.find((i) => i.name === 'added')).toMatchObject({ value: null, samples: 0 });
  });

  it('system_availability is no-data without health samples, never 100 %', () => {
    const k = kpi(ctxAt(new Date()), 'system_availability');
    expect(k).toMatchObject({ status: 'no-data', value: null, samples: 0 });
  });

  it('compliance_score is no-data until there is an assessment', () => {
    expect(kpi(ctxAt(new Date()), 'compliance_score')).toMatchObject({ status: 'no-data', value: null, detail: 'no assessment yet' });
  });

  it('no DR execution: MTTR, achieved RTO/RPO and DR test success are no-data', () => {
    const ctx = ctxAt(new Date());
    for (const name of ['mean_time_to_recovery', 'recovery_time_achieved', 'recovery_point_achieved', 'dr_test_success_rate'] as const) expect(kpi(ctx, name).status).toBe('no-data');
  });

  it('verify_coverage: a verify reading 100 % of the data covers every pack of the verified destination', () => {
    const k = kpi(ctxAt(new Date()), 'verify_coverage');
    expect(k.value).toBe(100);
    expect(k.status).toBe('ok');
    expect(k.perItem?.map((i) => i.name)).toEqual(['good']);
  });
});

describe('statusOf', () => {
  it.each([
    [99.95, 'higher-better', 99.9, 99, 'ok'],
    [99.5, 'higher-better', 99.9, 99, 'warning'],
    [98, 'higher-better', 99.9, 99, 'critical'],
    [99, 'higher-better', 99.9, 99, 'warning'],
    [20, 'lower-better', 30, 60, 'ok'],
    [30, 'lower-better', 30, 60, 'ok'],
    [45, 'lower-better', 30, 60, 'warning'],
    [61, 'lower-better', 30, 60, 'critical'],
  ] as const)('%d (%s, warning %d, critical %d) is %s', (value, direction, warning, critical, expected) => {
    expect(statusOf(value, direction, warning, critical)).toBe(expected);
  });
});

describe('KPIs measured from real DR tests and health samples (in-process)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let catalog: Catalog;
  let config: BkdrConfig;
  const ctx = (): ContinuityContext => ({ config, configDir: dir.path, catalog, logger: silentLogger, now: () => new Date() });
  const kpi = (name: Kpi['name']): Kpi => measureKpis(ctx()).kpis.find((k) => k.name === name)!;

  beforeAll(async () => {
    dir = await makeTempDir('bkdr-kpis-dr-');
    const data = join(dir.path, 'data');
    await mkdir(data);
    await writeFile(join(data, 'a.txt'), 'restore me\n');
    const closed = await freePort();
    const configPath = join(dir.path, 'backup.config.json');
    config = validateConfig(
      {
        sources: { files: { type: 'files', paths: [data] } },
        destinations: [{ name: 'good', type: 'local', config: { path: join(dir.path, 'repo') } }],
        catalog: { path: join(dir.path, 'catalog.db') },
        // Nothing listens on `closed`: every sample of app_health fails.
        monitoring: { healthChecks: { app_health: { type: 'tcp', target: `127.0.0.1:${closed}`, interval: '1s', timeout: '1s', failures: 1 } } },
        scenarios: [
          // automatic: false, so the watch only announces the down check and starts nothing.
          {
            id: 'files-loss',
            name: 'Files lost',
            severity: 'high',
            rto: 30,
            rpo: 60,
            affectedSystems: ['files'],
            automatic: false,
            triggers: [{ type: 'health_check', condition: 'app_health == false' }],
            recoveryPlans: ['restore-files'],
          },
          { id: 'broken', name: 'A plan that fails', severity: 'low', rto: 30, rpo: 60, affectedSystems: ['files'], triggers: [], recoveryPlans: ['fail'] },
        ],
        recoveryPlans: {
          'restore-files': { steps: [{ id: 'restore', type: 'restore', source: 'files', target: join(dir.path, 'restored') }] },
          fail: { steps: [{ id: 'fail', type: 'command', command: 'exit 3' }] },
        },
      },
      configPath,
    );
    catalog = openCatalog(join(dir.path, 'catalog.db'));
    const backup = new BackupManager({ config, configPath, catalog, password: () => Promise.resolve('test-password') });
    expect((await backup.createBackup('files')).status).toBe('succeeded');
    const orchestrator = new DisasterRecoveryOrchestrator({ config, configPath, catalog, backup });
    expect((await orchestrator.runRecoveryTest('files-loss', { type: 'e2e' })).passed).toBe(true);
    expect((await orchestrator.runRecoveryTest('broken', { type: 'e2e' })).passed).toBe(false);
    await orchestrator.watch({ once: true, signal: new AbortController().signal });
  });

  afterAll(async () => {
    catalog?.close();
    await dir?.cleanup();
  });

  it('dr_test_success_rate: 1 of 2 DR tests passed = 50 %, critical under the default 80 %', () => {
    expect(kpi('dr_test_success_rate')).toMatchObject({ value: 50, samples: 2, status: 'critical', detail: '1 of 2 DR tests in 365 days passed' });
  });

  it('recovery_time_achieved: the last achieved RTO of the scenario whose test measured one, against its 30-minute target', () => {
    const k = kpi('recovery_time_achieved');
    expect(k.status).toBe('ok');
    const item = k.perItem?.find((i) => i.name === 'files-loss');
    expect(item).toMatchObject({ target: 30, samples: 1 });
    expect(item!.value!).toBeLessThan(1);
  });

  it('mean_time_to_recovery leaves DR tests out: no real recovery, no-data', () => {
    expect(kpi('mean_time_to_recovery')).toMatchObject({ status: 'no-data', value: null });
  });

  it('system_availability: the down check sampled by the watch gives 0 % over its samples, critical', () => {
    const k = kpi('system_availability');
    expect(k.value).toBe(0);
    expect(k.samples).toBeGreaterThan(0);
    expect(k.status).toBe('critical');
    expect(k.perItem?.map((i) => i.name)).toEqual(['app_health']);
  });
});
