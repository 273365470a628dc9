import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupManager } from '../../src/backup/backup-manager.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import type { BkdrConfig } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { silentLogger } from '../../src/core/logger.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import { generateExecutiveDashboard } from '../../src/continuity/executive-dashboard.js';
import { renderDashboardHtml } from '../../src/report/dashboard-html.js';
import { makeTempDir } from '../helpers/cli.js';

const DAY_MS = 86_400_000;

/**
 * Readiness (CONTINUITY.md) over real backups and verifies, with DR executions recorded in
 * the catalog as the executor records them: a critical system is ready only while its last
 * exercise is recent and met its objectives AND its backups are fresh and verified.
 */
describe('generateExecutiveDashboard (in-process)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let catalog: Catalog;
  let config: BkdrConfig;
  const ctxAt = (now: Date): ContinuityContext => ({ config, configDir: dir.path, catalog, logger: silentLogger, now: () => now });

  beforeAll(async () => {
    dir = await makeTempDir('bkdr-dashboard-');
    const data = join(dir.path, 'data');
    await mkdir(data);
    await writeFile(join(data, 'ledger.csv'), 'account,amount\n');
    const configPath = join(dir.path, 'backup.config.json');
    config = validateConfig(
      {
        sources: { files: { type: 'files', paths: [data] } },
        destinations: [{ name: 'good', type: 'local', config: { path: join(dir.path, 'repo') } }],
        catalog: { path: join(dir.path, 'catalog.db') },
        // rto, rpo and mtpd in minutes, as the config reads a bare number.
        systems: [
          { name: 'ledger', criticality: 'critical', rto: 30, rpo: 1440, mtpd: 240, sources: ['files'], scenarios: ['ledger-down'] },
          { name: 'billing', criticality: 'critical', rto: 30, rpo: 1440, mtpd: 240, sources: ['files'] },
          { name: 'wiki', criticality: 'low', sources: ['files'] },
        ],
      },
      configPath,
    );
    catalog = openCatalog(join(dir.path, 'catalog.db'));
    const manager = new BackupManager({ config, configPath, catalog, password: () => Promise.resolve('test-password') });
    expect((await manager.createBackup('files', { destinations: ['good'] })).status).toBe('succeeded');
    await manager.verifyBackups({ destinations: ['good'] });
    const drill = catalog.drExecutions.create({ scenarioId: 'ledger-down', triggeredBy: 'manual', rtoTargetSeconds: 1800, rpoTargetSeconds: 86_400, plan: null, steps: [] });
    catalog.drExecutions.finish(drill, 'succeeded', { rtoAchievedSeconds: 600, rpoAchievedSeconds: 60 });
    // A dry run measures nothing: it is left out of the recent executions.
    const dry = catalog.drExecutions.create({ scenarioId: 'ledger-down', dryRun: true, triggeredBy: 'manual', plan: null, steps: [] });
    catalog.drExecutions.finish(dry, 'planned');
    catalog.incidents.open({ title: 'customer export leaked', severity: 'high', personalData: true });
    catalog.incidents.open({ title: 'disk full', severity: 'low' });
  });

  afterAll(async () => {
    catalog?.close();
    await dir?.cleanup();
  });

  it('counts a critical system ready when exercised with RTO and RPO met and its backups are fresh and verified; low systems do not count', () => {
    const model = generateExecutiveDashboard(ctxAt(new Date()));
    expect(model.readiness.systems).toEqual([
      { name: 'ledger', ready: true, reasons: [] },
      { name: 'billing', ready: false, reasons: ['no scenario covering it has run successfully'] },
    ]);
    expect(model.summaryMetrics.businessContinuityReadiness).toBe(50);
    expect(model.summaryMetrics).toMatchObject({ openIncidents: 2, gdprClocksOpen: 1, backupSuccessRate: 100, overallAvailability: null, complianceScore: null, riskExposure: 0 });
    expect(model.recentExecutions).toEqual([
      expect.objectContaining({ scenarioId: 'ledger-down', status: 'succeeded', rto: { target: 1800, achieved: 600, met: true }, rpo: { target: 86_400, achieved: 60, met: true } }),
    ]);
    expect(model.frameworks).toEqual([]);
    expect(model.risks.heatMap.flat().every((n) => n === 0)).toBe(true);
  });

  it('a week and a day later the verify and the backups are stale: nobody is ready', () => {
    const later = generateExecutiveDashboard(ctxAt(new Date(Date.now() + 8 * DAY_MS)));
    const ledger = later.readiness.systems.find((s) => s.name === 'ledger')!;
    expect(ledger.ready).toBe(false);
    expect(ledger.reasons).toEqual([expect.stringMatching(/^source files has no backup within its RPO/)]);
    expect(later.summaryMetrics.businessContinuityReadiness).toBe(0);
    // Runs 8 days ago fall on the 9th-last day of the 30 shown.
    expect(later.backupRunsByDay.at(-9)).toMatchObject({ succeeded: 1, failed: 0 });
  });

  it('a later drill that missed its RTO makes the system unready', () => {
    const slow = catalog.drExecutions.create({ scenarioId: 'ledger-down', triggeredBy: 'manual', rtoTargetSeconds: 1800, rpoTargetSeconds: 86_400, plan: null, steps: [] });
    catalog.drExecutions.finish(slow, 'succeeded', { endedAt: new Date(Date.now() + 1000), rtoAchievedSeconds: 3600, rpoAchievedSeconds: 60 });
    const model = generateExecutiveDashboard(ctxAt(new Date(Date.now() + 2000)));
    expect(model.readiness.systems.find((s) => s.name === 'ledger')).toEqual({ name: 'ledger', ready: false, reasons: ['achieved RTO 3600 s above its 1800 s target'] });
    expect(model.recentExecutions[0]).toMatchObject({ rto: { achieved: 3600, met: false } });
  });

  it('the HTML page escapes what people typed and carries every headline figure', () => {
    const model = generateExecutiveDashboard(ctxAt(new Date()));
    model.readiness.systems[0]!.name = '<script>alert("x")</script>';
    const html = renderDashboardHtml(model);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    for (const key of Object.keys(model.summaryMetrics)) expect(html).toContain(`data-metric="${key}"`);
    expect(html).toMatch(/data-metric="overallAvailability" data-value="">no data</);
    expect(html).toMatch(/@media print/);
  });
});
