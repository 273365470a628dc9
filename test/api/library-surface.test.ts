import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BackupManager,
  type BkdrConfigInput,
  ConfigError,
  createBackupManager,
  createBusinessContinuityManager,
  createDisasterRecoveryOrchestrator,
  initializeEnterpriseBackupInfrastructure,
} from '../../src/index.js';
import { makeTempDir } from '../helpers/cli.js';

/** A config with relative paths (the recovery step's marker file aside): where they land shows what each form resolves them against. */
function relativeConfig(dir: string, extra: Partial<BkdrConfigInput> = {}): BkdrConfigInput {
  return {
    sources: { files: { type: 'files', paths: ['data'] } },
    destinations: [{ name: 'local', type: 'local', encryption: true, config: { path: 'repo' } }],
    catalog: { path: 'catalog.db' },
    scenarios: [
      { id: 'app-down', name: 'App down', severity: 'high', rto: 30, rpo: 60, affectedSystems: ['app'], triggers: [{ type: 'external', condition: 'app_down' }], recoveryPlans: ['app-recovery'] },
    ],
    recoveryPlans: { 'app-recovery': { steps: [{ id: 'marker', type: 'command', command: `echo recovered >> '${join(dir, 'recovered.log')}'` }] } },
    ...extra,
  } as BkdrConfigInput;
}

describe('library factories: a config object, a path, nothing, or a shared backup service', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  const opened: BackupManager[] = [];
  const savedEnv = { BKDR_CONFIG: process.env['BKDR_CONFIG'], BKDR_PASSWORD: process.env['BKDR_PASSWORD'] };

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-api-');
    await mkdir(join(tmp.path, 'data'));
    await writeFile(join(tmp.path, 'data', 'orders.csv'), 'id,total\n1,10\n');
    process.env['BKDR_PASSWORD'] = 'test-password';
  });
  afterEach(async () => {
    for (const m of opened.splice(0)) {
      await m.close();
      m.catalog.close();
    }
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await tmp.cleanup();
  });
  const track = (m: BackupManager) => (opened.push(m), m);

  it('takes a config object whose relative paths, catalog included, resolve against cwd', async () => {
    const manager = track(await createBackupManager({ config: relativeConfig(tmp.path), cwd: tmp.path }));
    const run = await manager.createBackup(['files']);
    expect(run.status).toBe('succeeded');
    expect(existsSync(join(tmp.path, 'repo'))).toBe(true);
    expect(existsSync(join(tmp.path, 'catalog.db'))).toBe(true);
    expect(manager.getExecutionLogs(run.runId).run.status).toBe('succeeded');
  });

  it('tells a bare config object (it has destinations) from the options object', async () => {
    const cwd = process.cwd();
    process.chdir(tmp.path);
    try {
      const manager = track(await createBackupManager(relativeConfig(tmp.path)));
      expect((await manager.createBackup('files')).status).toBe('succeeded');
      expect(existsSync(join(tmp.path, 'repo'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('takes a config file path, and a relative path in the file resolves against its folder', async () => {
    const file = join(tmp.path, 'bkdr.config.json');
    await writeFile(file, JSON.stringify(relativeConfig(tmp.path)));
    const manager = track(await createBackupManager(file));
    const run = await manager.createBackup();
    expect(run.status).toBe('succeeded');
    expect((await manager.listBackups()).map((b) => b.source)).toEqual(['files']);
    expect(existsSync(join(tmp.path, 'catalog.db'))).toBe(true);
  });

  it('with no argument loads the config as the CLI does (BKDR_CONFIG)', async () => {
    const file = join(tmp.path, 'bkdr.config.json');
    await writeFile(file, JSON.stringify(relativeConfig(tmp.path)));
    process.env['BKDR_CONFIG'] = file;
    const dr = await createDisasterRecoveryOrchestrator();
    expect(dr.listScenarios().map((s) => s.id)).toEqual(['app-down']);
    const planned = await dr.triggerRecovery('app-down', { dryRun: true });
    expect(planned.status).toBe('planned');
    const bc = await createBusinessContinuityManager();
    const assessment = bc.conductComplianceAssessment('ISO-22301', 'External Auditor', ['backup', 'recovery', 'testing']);
    expect(assessment.framework).toBe('ISO-22301');
    // The dry run the DR service recorded is in the catalog the continuity service reads: one catalog, found from the same file.
    const reopened = track(await createBackupManager(file));
    expect(reopened.catalog.drExecutions.get(planned.id)?.status).toBe('planned');
  });

  it('over { backupManager } shares its config and catalog: no config file exists for it to find', async () => {
    const manager = track(await createBackupManager({ config: relativeConfig(tmp.path), cwd: tmp.path }));
    delete process.env['BKDR_CONFIG'];
    const dr = await createDisasterRecoveryOrchestrator({ backupManager: manager });
    const result = await dr.triggerRecovery('app-down', { triggeredBy: 'api' });
    expect(result.status).toBe('succeeded');
    // The step ran, and its execution is in the manager's catalog.
    expect(await readFile(join(tmp.path, 'recovered.log'), 'utf8')).toBe('recovered\n');
    expect(manager.catalog.drExecutions.get(result.id)?.status).toBe('succeeded');
    const bc = await createBusinessContinuityManager({ backupManager: manager });
    expect(bc.getKpis()).toBeDefined();
  });

  it('rejects a bad config object with the ConfigError of the loader, naming the field', async () => {
    const bad = { ...relativeConfig(tmp.path), sources: { files: { type: 'files', paths: 'data' } } } as unknown as BkdrConfigInput;
    const err = await createBackupManager(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('sources.files.paths');
    // Without destinations it is still a config: refused, not swapped for whatever file the search would find.
    const noDestinations = await createBackupManager({ sources: relativeConfig(tmp.path).sources } as BkdrConfigInput).catch((e: unknown) => e);
    expect(noDestinations).toBeInstanceOf(ConfigError);
    expect((noDestinations as ConfigError).path).toBe('destinations');
  });

  it('rejects an unknown compliance framework with its position', async () => {
    const err = await initializeEnterpriseBackupInfrastructure({
      backup: relativeConfig(tmp.path),
      cwd: tmp.path,
      complianceFrameworks: ['SOX', 'HIPAA' as 'SOX'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('complianceFrameworks[1]');
  });
});

describe('initializeEnterpriseBackupInfrastructure', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-infra-');
    await mkdir(join(tmp.path, 'data'));
    await writeFile(join(tmp.path, 'data', 'orders.csv'), 'id,total\n1,10\n');
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('runs the scheduled DR tests in process, records them, and stop() leaves nothing running', async () => {
    const config = relativeConfig(tmp.path, {
      // The step outlasts the interval, so stop() arrives while a test is running and must wait for it.
      recoveryPlans: { 'app-recovery': { steps: [{ id: 'marker', type: 'command', command: `sleep 0.4; echo tested >> '${join(tmp.path, 'tested.log')}'` }] } },
      drTests: { smoke: { type: 'integration', scenarios: ['app-down'], schedule: { type: 'interval', expression: '200' } } },
    });
    const events: string[] = [];
    const infrastructure = await initializeEnterpriseBackupInfrastructure({
      backup: config,
      cwd: tmp.path,
      password: 'test-password',
      enableAutomatedTesting: true,
      complianceFrameworks: ['ISO-22301', 'GDPR'],
      onTestEvent: (e) => events.push(e.type === 'finished' ? `finished:${e.result.status}` : e.type),
    });
    expect(infrastructure.complianceFrameworks).toEqual(['ISO-22301', 'GDPR']);
    const { drOrchestrator } = infrastructure;

    // Wait for one finished test and a second one under way.
    const deadline = Date.now() + 15_000;
    while (!(events.includes('finished:succeeded') && drOrchestrator.activeExecutions().length > 0)) {
      if (Date.now() > deadline) throw new Error(`no second scheduled test started; events: ${events.join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const history = drOrchestrator.getHistory({ scenarioId: 'app-down' });
    expect(history.some((e) => e.status === 'succeeded' && e.triggeredBy.includes('smoke'))).toBe(true);
    await infrastructure.stop();
    expect(events.at(-1)).toBe('stopped');
    await infrastructure.stop(); // a second stop is harmless

    // The catalog is closed; a fresh look at it finds no execution left running.
    const reopened = await createBackupManager({ config, cwd: tmp.path });
    const after = (await createDisasterRecoveryOrchestrator({ backupManager: reopened })).getHistory({ scenarioId: 'app-down' });
    reopened.catalog.close();
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(after.filter((e) => e.status === 'running' || e.status === 'waiting-approval')).toEqual([]);
    expect((await readFile(join(tmp.path, 'tested.log'), 'utf8')).split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('refuses automated testing when no drTests suite has a schedule', async () => {
    const err = await initializeEnterpriseBackupInfrastructure({ backup: relativeConfig(tmp.path), cwd: tmp.path, enableAutomatedTesting: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('drTests');
  });
});
