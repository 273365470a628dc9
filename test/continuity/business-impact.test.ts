import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupManager } from '../../src/backup/backup-manager.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { validateConfig } from '../../src/config/validate.js';
import type { BkdrConfig } from '../../src/config/schema.js';
import { analyseBusinessImpact, type BiaSystem } from '../../src/continuity/business-impact.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import { silentLogger } from '../../src/core/logger.js';
import { DisasterRecoveryOrchestrator } from '../../src/dr/disaster-recovery-orchestrator.js';
import { makeTempDir } from '../helpers/cli.js';

/**
 * The business impact analysis over a real catalog and configs validated like a loaded
 * one (CONTINUITY.md "Business impact analysis"). Durations in the results are seconds.
 */

const HOUR = 3600;

describe('analyseBusinessImpact', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-bia-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  function configWith(extra: Record<string, unknown>): BkdrConfig {
    return validateConfig(
      {
        // Hourly, so the systems backed up by it meet any RPO of an hour or more.
        sources: { files: { type: 'files', paths: [tmp.path], schedule: { type: 'interval', expression: String(HOUR * 1000) } } },
        destinations: [{ name: 'local', type: 'local', config: { path: join(tmp.path, 'repo') } }],
        ...extra,
      },
      join(tmp.path, 'backup.config.json'),
    );
  }

  function analyse(config: BkdrConfig, now = new Date()): Map<string, BiaSystem> {
    const ctx: ContinuityContext = { config, configDir: tmp.path, catalog, logger: silentLogger, now: () => now };
    return new Map(analyseBusinessImpact(ctx).systems.map((s) => [s.name, s]));
  }

  it("flags a system whose RTO exceeds its MTPD, and one whose dependency's RTO is longer than its own", () => {
    const result = analyse(
      configWith({
        systems: [
          // RTO 4 h against an MTPD of 2 h.
          { name: 'billing', criticality: 'high', rto: '4h', rpo: '1d', mtpd: '2h' },
          // RTO 30 min (a number is minutes), but it needs the database, whose RTO is 2 h.
          { name: 'web', criticality: 'high', rto: 30, rpo: '1d', mtpd: '8h', dependencies: ['database'] },
          { name: 'database', criticality: 'high', rto: '2h', rpo: '1d', mtpd: '8h' },
        ],
      }),
    );
    const billing = result.get('billing')!;
    expect([billing.rto, billing.mtpd, billing.effectiveRto]).toEqual([4 * HOUR, 2 * HOUR, 4 * HOUR]);
    expect(billing.issues).toEqual(['RTO 4h00m exceeds the MTPD 2h00m: the business cannot wait for this recovery']);

    const web = result.get('web')!;
    expect([web.rto, web.effectiveRto]).toEqual([30 * 60, 2 * HOUR]);
    expect(web.issues).toEqual(['effective RTO 2h00m exceeds its RTO 30m00s: dependency database has an RTO of 2h00m']);

    expect(result.get('database')!.issues).toEqual([]);
    expect(result.get('database')!.effectiveRto).toBe(2 * HOUR);
  });

  it('takes the effective RTO through dependencies of dependencies, and names the way there', () => {
    const result = analyse(
      configWith({
        systems: [
          { name: 'shop', rto: '1h', dependencies: ['api'] },
          { name: 'api', rto: '30m', dependencies: ['storage'] },
          { name: 'storage', rto: '6h' },
        ],
      }),
    );
    expect(result.get('shop')!.effectiveRto).toBe(6 * HOUR);
    expect(result.get('shop')!.issues).toEqual(['effective RTO 6h00m exceeds its RTO 1h00m: dependency storage (through api) has an RTO of 6h00m']);
    expect(result.get('api')!.effectiveRto).toBe(6 * HOUR);
  });

  it('names a dependency cycle to each of its members, and a dependency that is not a system', () => {
    const result = analyse(
      configWith({
        systems: [
          { name: 'a', rto: '1h', dependencies: ['b'] },
          { name: 'b', rto: '1h', dependencies: ['a', 'ghost'] },
        ],
      }),
    );
    const cycle = 'dependency cycle a → b → a: each needs the one before it, so no recovery order exists';
    expect(result.get('a')!.issues).toEqual([cycle]);
    expect(result.get('b')!.issues).toEqual(['depends on ghost, which is not a system in the config', cycle]);
    // A cycle does not loop the effective RTO: it is the longest RTO around it.
    expect(result.get('a')!.effectiveRto).toBe(HOUR);
  });

  it("flags an RPO shorter than the interval of a source's schedule, interval or cron", () => {
    const config = configWith({
      sources: {
        hourly: { type: 'files', paths: [tmp.path], schedule: { type: 'interval', expression: String(HOUR * 1000) } },
        // At 02:00 and 14:00: a 12 h interval.
        twiceDaily: { type: 'files', paths: [tmp.path], schedule: { type: 'cron', expression: '0 2,14 * * *', timezone: 'UTC' } },
        manual: { type: 'files', paths: [tmp.path] },
      },
      systems: [
        { name: 'tight', rto: '1h', rpo: '15m', sources: ['hourly'] },
        { name: 'loose', rto: '1h', rpo: '1h', sources: ['hourly'] },
        { name: 'daily', rto: '1h', rpo: '6h', sources: ['twiceDaily', 'manual', 'missing'] },
      ],
    });
    const result = analyse(config);
    expect(result.get('tight')!.issues).toEqual(["RPO 15m00s is shorter than the 1h00m interval of source hourly's schedule (sources.hourly.schedule): it cannot be met"]);
    expect(result.get('loose')!.issues).toEqual([]);
    expect(result.get('daily')!.issues).toEqual([
      "RPO 6h00m is shorter than the 12h00m interval of source twiceDaily's schedule (sources.twiceDaily.schedule): it cannot be met",
      'source manual has no schedule, so nothing holds its backups within the RPO 6h00m',
      "source missing is not in the config's sources",
    ]);
  });

  it('flags a critical system without a source, without a scenario, or with a scenario never run', () => {
    const result = analyse(
      configWith({
        recoveryPlans: { restart: { steps: [{ id: 'ok', type: 'command', command: 'true' }] } },
        scenarios: [{ id: 'outage', name: 'outage', severity: 'critical', rto: 60, rpo: 60, affectedSystems: ['covered'], triggers: [], recoveryPlans: ['restart'] }],
        systems: [
          { name: 'bare', criticality: 'critical', rto: '1h', rpo: '1d' },
          { name: 'covered', criticality: 'critical', rto: '1h', rpo: '1d', sources: ['files'] },
          // Not critical: the same gaps are not issues.
          { name: 'minor', criticality: 'low', rto: '1h', rpo: '1d' },
        ],
      }),
    );
    expect(result.get('bare')!.issues).toEqual(['critical system without a backup source', 'critical system without a DR scenario']);
    expect(result.get('covered')!.scenarios).toEqual(['outage']);
    expect(result.get('covered')!.issues).toEqual(['critical system whose scenarios (outage) have never run successfully']);
    expect(result.get('minor')!.issues).toEqual([]);
  });

  describe('with a DR execution run through the orchestrator', () => {
    const config = () =>
      configWith({
        recoveryPlans: { restart: { steps: [{ id: 'ok', type: 'command', command: 'true' }] } },
        scenarios: [{ id: 'outage', name: 'outage', severity: 'critical', rto: 60, rpo: 60, affectedSystems: [], triggers: [], recoveryPlans: ['restart'] }],
        systems: [{ name: 'app', criticality: 'critical', rto: '1h', rpo: '1d', mtpd: '1d', sources: ['files'], scenarios: ['outage'] }],
      });

    async function recover(cfg: BkdrConfig, detectionAt: Date, dryRun = false): Promise<void> {
      const configPath = join(tmp.path, 'backup.config.json');
      const backup = new BackupManager({ config: cfg, configPath, catalog, password: () => Promise.resolve('test-password') });
      const orchestrator = new DisasterRecoveryOrchestrator({ config: cfg, configPath, catalog, backup });
      const result = await orchestrator.triggerRecovery('outage', { triggeredBy: 'test', detectionAt, dryRun });
      expect(result.status).toBe(dryRun ? 'planned' : 'succeeded');
    }

    it('stands the achieved RTO beside the target, and flags it when above', async () => {
      const cfg = config();
      // Detected 2 h ago: the recovery took about 2 h against a 1 h RTO.
      await recover(cfg, new Date(Date.now() - 2 * HOUR * 1000));
      const app = analyse(cfg).get('app')!;
      expect(app.achievedRto).toBeGreaterThanOrEqual(2 * HOUR);
      expect(app.achievedRto).toBeLessThan(2 * HOUR + 60);
      // The plan restores nothing, so no RPO was measured.
      expect(app.achievedRpo).toBeNull();
      expect(app.lastExercisedAt).not.toBeNull();
      expect(app.issues).toHaveLength(1);
      expect(app.issues[0]).toMatch(/^achieved RTO 2h00m \(execution [0-9a-f]{8} of outage\) is above the RTO 1h00m$/);
    });

    it('counts a dry run as no exercise, and a success older than 90 days as stale', async () => {
      const cfg = config();
      await recover(cfg, new Date(), true);
      expect(analyse(cfg).get('app')!.issues).toEqual(['critical system whose scenarios (outage) have never run successfully']);

      await recover(cfg, new Date());
      const fresh = analyse(cfg).get('app')!;
      expect(fresh.issues).toEqual([]);
      expect(fresh.achievedRto).toBeLessThan(60);

      // The clock moved 91 days on: the same success is now too old.
      const later = new Date(Date.now() + 91 * 86_400_000);
      const stale = analyse(cfg, later).get('app')!;
      expect(stale.issues).toEqual([`critical system whose scenarios (outage) last ran successfully on ${fresh.lastExercisedAt!.slice(0, 10)}, more than 90 days ago`]);
    });
  });
});
