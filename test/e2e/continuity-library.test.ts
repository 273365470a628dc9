import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupManager, createBusinessContinuityManager, createDisasterRecoveryOrchestrator } from '../../src/index.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

/**
 * The product brief's continuity snippets, run as printed through the library, on
 * records real operations left: backups, a verify with a test restore, health samples
 * from a real TCP service, a DR test, a risk.
 */
describe('library: the brief’s BusinessContinuityManager snippets', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let configPath = '';
  let service: Server;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-bc-library-');
    service = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    const port = (service.address() as { port: number }).port;
    await mkdir(join(tmp.path, 'data'));
    await writeFile(join(tmp.path, 'data', 'orders.csv'), 'id,total\n1,10\n');
    await writeFile(join(tmp.path, 'password'), 'test-password\n');
    const ws = await makeWorkspace(tmp.path, [join(tmp.path, 'data')], {
      encryption: { passwordFile: join(tmp.path, 'password') },
      monitoring: { healthChecks: { database_health: { type: 'tcp', target: `127.0.0.1:${port}`, failures: 1 } } },
      systems: [{ name: 'database', criticality: 'critical', rto: 30, rpo: 60, mtpd: 240, sources: ['files'], scenarios: ['db-failure'], reviewedAt: new Date().toISOString().slice(0, 10) }],
      scenarios: [
        {
          id: 'db-failure',
          name: 'Database Complete Failure',
          severity: 'critical',
          rto: 30,
          rpo: 60,
          affectedSystems: ['database'],
          triggers: [{ type: 'health_check', condition: 'database_health == false' }],
          recoveryPlans: ['database-recovery'],
        },
      ],
      recoveryPlans: { 'database-recovery': { owner: 'ops', steps: [{ id: 'restore', type: 'restore', source: 'files', target: join(tmp.path, 'restored') }] } },
      risks: [{ id: 'R-1', title: 'Ransomware', likelihood: 3, impact: 5, owner: 'security', treatment: 'mitigate' }],
    });
    configPath = ws.config;
    const backup = await createBackupManager({ configPath });
    expect((await backup.createBackup()).status).toBe('succeeded');
    expect((await backup.verifyBackups({ testRestore: true })).status).toBe('clean');
    const dr = await createDisasterRecoveryOrchestrator({ configPath });
    // One look of the health check: the service answers, a sample is kept as availability evidence.
    await dr.watch({ once: true, signal: new AbortController().signal });
    expect((await dr.runRecoveryTest('db-failure', { type: 'e2e' })).passed).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await new Promise((r) => service?.close(r));
    await tmp?.cleanup();
  });

  it("conductComplianceAssessment('ISO-22301', 'External Auditor', ['backup', 'recovery', 'testing']) → overallCompliance and findings", async () => {
    const bc = await createBusinessContinuityManager({ configPath });
    const assessment = bc.conductComplianceAssessment('ISO-22301', 'External Auditor', ['backup', 'recovery', 'testing']);
    expect(assessment.framework).toBe('ISO-22301');
    expect(assessment.assessor).toBe('External Auditor');
    expect(typeof assessment.overallCompliance).toBe('number');
    expect(Array.isArray(assessment.findings)).toBe(true);
    expect(assessment.controls.map((c) => c.id)).toEqual(['8.3', '8.4.4', '8.4.5', '8.5']);
  });

  it('generateComplianceReport(framework, { start, end }) covers the period', async () => {
    const bc = await createBusinessContinuityManager({ configPath });
    const end = new Date(Date.now() + 60_000);
    const start = new Date(end.getTime() - 30 * 86_400_000);
    const report = bc.generateComplianceReport('ISO-22301', { start, end });
    expect(report.title).toMatch(/ISO-22301/);
    expect(JSON.stringify(report)).toMatch(/External Auditor/);
  });

  it('generateExecutiveDashboard() gives its four summaryMetrics as numbers', async () => {
    const bc = await createBusinessContinuityManager({ configPath });
    const { summaryMetrics } = bc.generateExecutiveDashboard();
    for (const metric of ['overallAvailability', 'businessContinuityReadiness', 'complianceScore', 'riskExposure'] as const) expect(typeof summaryMetrics[metric], metric).toBe('number');
    expect(summaryMetrics.overallAvailability).toBe(100);
    // Ransomware, likelihood 3 × impact 5.
    expect(summaryMetrics.riskExposure).toBe(15);
  });
});
