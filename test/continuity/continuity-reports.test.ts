import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackupStatus } from '../../src/backup/backup-status.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { validateConfig } from '../../src/config/validate.js';
import { silentLogger } from '../../src/core/logger.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import { backupStatusReport, complianceOverviewReport, recoveryReadinessReport } from '../../src/continuity/continuity-reports.js';
import type { ReportDocument } from '../../src/report/report-document.js';

const NOW = new Date('2026-12-05T12:00:00Z');
const sectionOf = (doc: ReportDocument, heading: string) => doc.sections.find((s) => s.heading.startsWith(heading))!;
const figure = (doc: ReportDocument, label: string) => sectionOf(doc, 'Summary').figures.find((f) => f.label === label)?.value;

/** The bc reports read the same records the other commands do; these build them from records written here, with a fixed clock. */
describe('bc report documents', () => {
  let catalog: Catalog;
  let ctx: ContinuityContext;

  beforeEach(() => {
    catalog = openCatalog(':memory:');
    const config = validateConfig(
      {
        sources: {},
        destinations: [{ name: 'local', type: 'local', config: { path: '/tmp/unused' } }],
        recoveryPlans: { restart: { steps: [{ id: 'ok', type: 'command', command: 'true' }] } },
        scenarios: [
          { id: 'db-down', name: 'database down', severity: 'critical', rto: 30, rpo: 5, affectedSystems: ['ledger'], triggers: [], recoveryPlans: ['restart'] },
          { id: 'site-loss', name: 'site loss', severity: 'high', rto: 240, rpo: 60, affectedSystems: [], triggers: [], recoveryPlans: ['restart'] },
        ],
      },
      'test',
    );
    ctx = { config, configDir: '/tmp', catalog, logger: silentLogger, now: () => NOW };
  });
  afterEach(() => catalog.close());

  it('recovery readiness: each scenario beside its last execution, a missed target named, a scenario never run counted', () => {
    const steps = [{ planId: 'restart', stepId: 'ok', type: 'command' }];
    const drill = catalog.drExecutions.create({
      scenarioId: 'db-down',
      triggeredBy: 'dr-test:e2e:nightly',
      startedAt: new Date('2026-12-01T00:00:00Z'),
      rtoTargetSeconds: 1800,
      rpoTargetSeconds: 300,
      plan: null,
      steps,
    });
    catalog.drExecutions.finish(drill, 'succeeded', { endedAt: new Date('2026-12-01T00:45:00Z'), rtoAchievedSeconds: 2700, rpoAchievedSeconds: 120 });
    // A dry run is not the last execution: it recovers nothing.
    catalog.drExecutions.create({ scenarioId: 'db-down', dryRun: true, triggeredBy: 'cli', startedAt: new Date('2026-12-02T00:00:00Z'), plan: null, steps });

    const doc = recoveryReadinessReport(ctx);
    const rows = sectionOf(doc, 'Scenarios').tables[0]!.rows;
    expect(rows[0]).toEqual([
      'db-down: database down',
      'critical',
      'ledger',
      '30m00s',
      '5m00s',
      `${drill.slice(0, 8)} at 2026-12-01T00:00:00.000Z (DR test)`,
      'succeeded',
      '45m00s of 30m00s (MISSED)',
      '2m00s of 5m00s (met)',
    ]);
    expect(rows[1]!.slice(5)).toEqual(['never', null, null, null]);
    expect([figure(doc, 'never executed'), figure(doc, 'last execution missed a target'), figure(doc, 'DR test success rate')]).toEqual([1, 1, '100 %']);
    expect(sectionOf(doc, 'DR tests').tables[0]!.rows.map((r) => r[0])).toEqual([drill]);
  });

  it('backup status: a source never backed up, an unreachable destination and the 3-2-1 state', () => {
    const status: BackupStatus = {
      totalBackups: 0,
      lastBackup: null,
      storageUsage: 0,
      totals: { backups: 0, sources: 1, destinations: 1, bytes: 0 },
      rule321: { copies: 1, media: 1, offsite: 0, met: false },
      lastPerSource: [{ source: 'files' }],
      recentFailures: [{ runId: 'r1', kind: 'backup', status: 'failed', startedAt: '2026-12-05T01:00:00.000Z', error: 'destination <offsite> unreachable' }],
      destinations: [{ name: 'offsite', type: 's3', encrypted: true, offsite: true, reachable: false, backups: 0, packs: 0, storedBytes: 0, compression: 'zstd' }],
      recoverable: [],
    };
    const doc = backupStatusReport(ctx, status);
    expect(figure(doc, '3-2-1')).toBe('not met');
    expect(figure(doc, 'success rate')).toBe('no finished run');
    expect(sectionOf(doc, 'Last backup per source').tables[0]!.rows).toEqual([['files', 'never backed up', null, null, null, null]]);
    expect(sectionOf(doc, 'Destinations').tables[0]!.rows[0]!.slice(0, 3)).toEqual(['offsite', 's3', 'NO']);
    expect(sectionOf(doc, 'Recent failures').tables[0]!.rows[0]).toContain('destination <offsite> unreachable');
    expect(doc.sections.some((s) => s.heading.startsWith('Point-in-time'))).toBe(false);
  });

  it('compliance overview: no assessment yet says how to run one', () => {
    const doc = complianceOverviewReport(ctx);
    expect(figure(doc, 'frameworks assessed')).toBe(0);
    expect(sectionOf(doc, 'Summary').paragraphs).toEqual(['No framework assessed yet; `bkdr compliance assess <framework>` runs one.']);
  });
});
