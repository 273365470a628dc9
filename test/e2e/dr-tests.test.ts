import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { gone, running } from '../helpers/dr-step.js';
import { freePort } from '../helpers/free-port.js';

interface TestResult {
  suite: string;
  type: string;
  passed: boolean;
  scenarios: { scenarioId: string; passed: boolean; reason?: string; detectionSeconds?: number; recoverySeconds?: number; executions: { id: string; status: string; triggeredBy: string }[] }[];
}
interface HistoryEntry {
  id: string;
  status: string;
  triggeredBy: string;
  steps: { id: string; status: string }[];
  rto: { achievedSeconds: number | null; met: boolean | null };
}

/** A web service as a real process: answers 200 on /healthz, writes its pid where the recovery plan finds it. */
const SERVICE = `import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const [port, pidFile] = process.argv.slice(2);
writeFileSync(pidFile, String(process.pid));
createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end('ok')).listen(Number(port), '127.0.0.1');
`;

/**
 * DR tests (`dr test`) against real things: a web service process, its health check, a
 * backup to restore. e2e runs the scenario against scratch targets and leaves the
 * production paths alone; chaos kills the service, lets the detectors find it and
 * measures detection and recovery.
 */
describe('dr test: e2e against scratch targets, chaos with a real failure', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  const p = (name: string) => join(tmp.path, name);
  const servicePid = () => (existsSync(p('service.pid')) ? Number(readFileSync(p('service.pid'), 'utf8')) : undefined);

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-drtest-');
    await mkdir(p('data/deep/er'), { recursive: true });
    await writeFile(p('data/deep/er/orders.csv'), 'id,total\n1,10\n');
    await writeFile(p('service.mjs'), SERVICE);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/healthz`;
    const startService = `nohup "${process.execPath}" "${p('service.mjs')}" ${port} "${p('service.pid')}" >/dev/null 2>&1 &`;
    ws = await makeWorkspace(tmp.path, [p('data')], {
      monitoring: { healthChecks: { web_health: { type: 'http', url, interval: '300ms', timeout: '1s', failures: 2 } } },
      scenarios: [
        {
          id: 'web-down',
          name: 'Web service down',
          severity: 'high',
          rto: '1m',
          rpo: '1h',
          affectedSystems: ['web'],
          triggers: [{ type: 'health_check', condition: 'web_health == false' }],
          recoveryPlans: ['web-recovery'],
        },
      ],
      recoveryPlans: {
        'web-recovery': {
          steps: [
            { id: 'restore', type: 'restore', source: 'files', target: p('production-restore') },
            { id: 'start', type: 'command', command: startService, dependsOn: ['restore'] },
            { id: 'check', type: 'http', url, dependsOn: ['start'], retries: 5 },
            { id: 'approve', type: 'approval', message: 'switch traffic back?', dependsOn: ['check'] },
          ],
        },
      },
      drTests: { 'chaos-web': { type: 'chaos', scenarios: ['web-down'], inject: `kill $(cat "${p('service.pid')}")` } },
    });
    const backup = await ws.run(['backup', 'run']);
    expect(backup.code, backup.stderr).toBe(0);
  });

  afterAll(async () => {
    const pid = servicePid();
    if (pid !== undefined && running(pid)) {
      process.kill(pid, 'SIGTERM');
      await gone(pid, 2_000);
    }
    await tmp?.cleanup();
  });

  it('e2e: runs the scenario against scratch targets, skips the approval, leaves production paths untouched, and records the result', async () => {
    const r = await ws.run(['--json', 'dr', 'test', 'web-down', '--type', 'e2e']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as TestResult;
    expect(result).toMatchObject({ suite: 'web-down', type: 'e2e', passed: true });
    expect(existsSync(p('production-restore'))).toBe(false);
    const history = JSON.parse((await ws.run(['--json', 'dr', 'history'])).stdout) as HistoryEntry[];
    expect(history[0]).toMatchObject({ status: 'succeeded', triggeredBy: 'dr-test:e2e:web-down' });
    expect(history[0]!.steps.map((s) => [s.id, s.status])).toEqual([
      ['web-recovery/restore', 'succeeded'],
      ['web-recovery/start', 'succeeded'],
      ['web-recovery/check', 'succeeded'],
      ['web-recovery/approve', 'skipped'],
    ]);
    // The scratch folder the restore went to is gone with the test.
    expect(readFileSync(p('service.pid'), 'utf8')).toMatch(/^\d+$/);
  }, 60_000);

  it('chaos: the injected failure is detected by the health check, recovered, and both times are measured', async () => {
    const before = servicePid();
    expect(before !== undefined && running(before)).toBe(true);
    const r = await ws.run(['--json', 'dr', 'test', 'chaos-web']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as TestResult;
    expect(result).toMatchObject({ suite: 'chaos-web', type: 'chaos', passed: true });
    const [scenario] = result.scenarios;
    expect(scenario!.detectionSeconds).toBeGreaterThan(0);
    // Two failed samples 300 ms apart, plus the time the first one took: well under 10 s.
    expect(scenario!.detectionSeconds).toBeLessThan(10);
    expect(scenario!.recoverySeconds).toBeGreaterThan(0);
    // The service was killed and started again: another process answers now.
    const after = servicePid();
    expect(after).not.toBe(before);
    expect(running(before!)).toBe(false);
    expect((await fetch(`${(JSON.parse(readFileSync(ws.config, 'utf8')) as { monitoring: { healthChecks: { web_health: { url: string } } } }).monitoring.healthChecks.web_health.url}`)).status).toBe(
      200,
    );

    const history = JSON.parse((await ws.run(['--json', 'dr', 'history', '--scenario', 'web-down'])).stdout) as HistoryEntry[];
    expect(history.map((h) => h.triggeredBy)).toEqual(['dr-test:chaos:chaos-web', 'dr-test:e2e:web-down']);
    expect(history[0]!.status).toBe('succeeded');
    expect(history[0]!.rto.met).toBe(true);
  }, 90_000);
});
