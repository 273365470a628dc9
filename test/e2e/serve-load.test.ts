import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackgroundRun, type CliResult, makeTempDir, makeWorkspace, startBkdr } from '../helpers/cli.js';

/**
 * `bkdr serve` under a dashboard-like load (50 clients polling two read queries for 30 s)
 * while a real backup writes to the same catalog and repository: the server must answer
 * every request, in time, without a GraphQL error. Set BKDR_LOAD_REPORT to a file name to
 * keep the figures.
 */

const CONNECTIONS = 50;
const DURATION_S = 30;
const READ_TOKEN = 'load-read-token-0123456789abcdef';
const OPERATE_TOKEN = 'load-operate-token-0123456789abcdef';
const STATUS_QUERY = '{ backupStatus { totalBackups recentFailures lastBackup storageUsage } }';
const DASHBOARD_QUERY = '{ executiveDashboard { summaryMetrics { backupSuccessRate complianceScore } kpis { name value status } } }';

describe('bkdr serve under load', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let src: string;
  let server: BackgroundRun | undefined;
  let url: string;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-load-');
    src = join(tmp.path, 'data');
    // A few hundred small files in nested folders: the walk and the catalog see a realistic tree, not one blob.
    for (let d = 0; d < 10; d++) {
      for (let s = 0; s < 3; s++) {
        const dir = join(src, `dir${d}`, `sub${s}`);
        await mkdir(dir, { recursive: true });
        for (let f = 0; f < 10; f++) await writeFile(join(dir, `f${f}.txt`), `dir ${d} sub ${s} file ${f}\n`.repeat(20 + f * 10));
      }
    }
    ws = await makeWorkspace(tmp.path, [src], {
      serve: {
        tokens: [
          { name: 'dashboards', role: 'read', token: READ_TOKEN },
          { name: 'ops', role: 'operate', token: OPERATE_TOKEN },
        ],
      },
    });
    for (let i = 0; i < 2; i++) {
      const r = await ws.run(['--json', 'backup', 'run']);
      expect(r.code, r.stderr).toBe(0);
    }
    server = startBkdr(['-c', ws.config, 'serve', '--port', '0'], { cwd: tmp.path, env: ws.env });
    await server.waitFor('bkdr serve: listening on ', 20_000);
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.stderr());
    if (!m) throw new Error(`no address on stderr:\n${server.stderr()}`);
    url = m[1]!;
  }, 60_000);

  afterAll(async () => {
    let stopped: CliResult | undefined;
    try {
      if (server) {
        if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM');
        // A server that does not stop on SIGTERM is a failure, but must not outlive the test.
        const killer = setTimeout(() => server?.child.kill('SIGKILL'), 15_000);
        stopped = await server.done.finally(() => clearTimeout(killer));
      }
    } finally {
      await tmp?.cleanup();
    }
    if (stopped) expect(stopped.code, stopped.stderr).toBe(0);
  }, 30_000);

  it('answers 50 connections for 30 s without an error while a backup runs', async () => {
    const badBodies: string[] = [];
    let bad = 0;
    const answered = { backupStatus: 0, executiveDashboard: 0 };
    const check = (field: keyof typeof answered) => (status: number, body: string) => {
      let ok = false;
      try {
        const parsed = JSON.parse(body) as { data?: Record<string, unknown> | null; errors?: unknown };
        ok = status === 200 && parsed.errors === undefined && parsed.data?.[field] != null;
      } catch {
        ok = false;
      }
      if (ok) return void answered[field]++;
      bad++;
      // A few are enough to say what went wrong; keeping them all would distort the run.
      if (badBodies.length < 5) badBodies.push(`${status} ${body.slice(0, 500)}`);
    };
    const headers = { authorization: `Bearer ${READ_TOKEN}`, 'content-type': 'application/json' };

    // The backup starts once the load is steady, so it competes with it rather than preceding it.
    let backupRun: Promise<CliResult> | undefined;
    const backupWindow = { from: Infinity, to: Infinity };
    // Whether the backup is what slows the server: the slowest answer while it ran and while it did not.
    const slowest = { duringBackup: 0, otherwise: 0 };
    const backupStart = setTimeout(() => {
      backupRun = (async () => {
        await writeFile(join(src, 'dir0', 'sub0', 'f0.txt'), 'changed during the load\n');
        for (let f = 0; f < 20; f++) await writeFile(join(src, 'dir1', 'sub1', `new${f}.txt`), `added during the load ${f}\n`.repeat(50));
        backupWindow.from = performance.now();
        const r = await ws.run(['--json', 'backup', 'run']);
        backupWindow.to = performance.now();
        return r;
      })();
    }, 3_000);

    let result: autocannon.Result;
    try {
      result = await new Promise<autocannon.Result>((resolve, reject) => {
        const running = autocannon(
          {
            url: `${url}/graphql`,
            connections: CONNECTIONS,
            duration: DURATION_S,
            // Seconds: a request that waits this long counts as a timeout, and the run still ends.
            timeout: 10,
            requests: [
              { method: 'POST', path: '/graphql', headers, body: JSON.stringify({ query: STATUS_QUERY }), onResponse: check('backupStatus') },
              { method: 'POST', path: '/graphql', headers, body: JSON.stringify({ query: DASHBOARD_QUERY }), onResponse: check('executiveDashboard') },
            ],
          },
          (err: unknown, r) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(r)),
        );
        running.on('response', (_client, _status, _bytes, responseTime) => {
          const at = performance.now();
          const key = at >= backupWindow.from && at - responseTime <= backupWindow.to ? 'duringBackup' : 'otherwise';
          slowest[key] = Math.max(slowest[key], responseTime);
        });
      });
    } finally {
      clearTimeout(backupStart);
      // A backup still writing when the load failed would race afterAll's removal of its workspace.
      await backupRun?.catch(() => undefined);
    }
    expect(backupRun, 'the backup did not start during the load').toBeDefined();
    const backup = await backupRun!;
    expect(backup.code, backup.stderr).toBe(0);

    const figures = {
      connections: CONNECTIONS,
      durationSeconds: result.duration,
      requests: result.requests.total,
      requestsPerSecond: Math.round((result.requests.total / result.duration) * 10) / 10,
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      badBodies: bad,
      answered,
      backupDuringLoad: {
        exitCode: backup.code,
        startedAtSecond: 3,
        ms: Math.round(backupWindow.to - backupWindow.from),
        slowestMs: { duringBackup: Math.round(slowest.duringBackup), otherwise: Math.round(slowest.otherwise) },
      },
    };
    // "errors" here is every way a request failed (the JSON keeps them apart): autocannon's own count leaves out 4xx/5xx and bad bodies.
    const failed = result.errors + result.non2xx + bad;
    console.log(
      `serve load: ${figures.requests} requests in ${Math.round(result.duration)} s, ${figures.requestsPerSecond} req/s, latency p50 ${figures.latencyMs.p50} ms, p99 ${figures.latencyMs.p99} ms, max ${figures.latencyMs.max} ms, errors ${failed}`,
    );
    if (process.env.BKDR_LOAD_REPORT) await writeFile(process.env.BKDR_LOAD_REPORT, JSON.stringify(figures, null, 2) + '\n');

    expect(result.requests.total).toBeGreaterThan(0);
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(bad, badBodies.join('\n')).toBe(0);
    // Every completed request went through a check: none was answered without being looked at.
    expect(answered.backupStatus + answered.executiveDashboard).toBe(result.requests.total);
    expect(answered.backupStatus).toBeGreaterThan(0);
    expect(answered.executiveDashboard).toBeGreaterThan(0);

    const list = await ws.run(['--json', 'backup', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout) as unknown[]).toHaveLength(3);

    // The server still reads what the backup wrote; backupStatus may answer from a read up to 2 s old (shared-for.ts), so it is asked again past that.
    await new Promise((r) => setTimeout(r, 2_100));
    const after = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query: STATUS_QUERY }) });
    expect(after.status).toBe(200);
    const body = (await after.json()) as { data?: { backupStatus?: { totalBackups?: number } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data?.backupStatus?.totalBackups).toBe(3);
  }, 90_000);
});
