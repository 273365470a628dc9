import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BackgroundRun, type CliResult, makeTempDir, makeWorkspace, startBkdr } from '../helpers/cli.js';
import { killChildren } from '../helpers/dr-step.js';
import { freePort } from '../helpers/free-port.js';

/**
 * `bkdr dr watch` through the real CLI in a child process (CLI.md "Disaster recovery and
 * continuity"): a log line, a scraped metric, an authenticated Alertmanager webhook and a
 * health check (`--once`) each start their scenario with triggeredBy 'automatic'; the
 * detection gate starts a scenario once per cooldown; `automatic: false` only announces.
 */

interface HistoryJson {
  id: string;
  scenarioId: string;
  status: string;
  triggeredBy: string;
  detectionAt: string | null;
}

type Watch = BackgroundRun;

type Ws = Awaited<ReturnType<typeof makeWorkspace>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The plan's one step has written its line: the recovery ran to its end before the watch is stopped (a stop interrupts it). */
async function ran(out: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (lines(out).length === 0 && Date.now() < until) await sleep(100);
}

function lines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/** A scenario whose one plan appends a line to `out`. */
function scenario(id: string, triggers: Record<string, unknown>[], out: string, extra: Record<string, unknown> = {}) {
  return {
    scenarios: [{ id, name: `scenario ${id}`, severity: 'high', rto: 30, rpo: 60, affectedSystems: ['db'], automatic: true, triggers, recoveryPlans: [`${id}-plan`], ...extra }],
    recoveryPlans: { [`${id}-plan`]: { steps: [{ id: 'mark', type: 'command', command: `echo ran >> '${out}'` }] } },
  };
}

function listen(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, body, res));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

describe('dr watch through the CLI', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let p: (name: string) => string;
  const children = new Set<ChildProcess>();
  const servers: Server[] = [];

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-dr-watch-');
    p = (name) => join(tmp.path, name);
    await mkdir(p('app'), { recursive: true });
  });

  afterEach(async () => {
    await killChildren(children);
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await tmp.cleanup();
  });

  const workspace = (extra: Record<string, unknown>) => makeWorkspace(tmp.path, [p('app')], extra);

  function startWatch(ws: Ws, args: string[] = []): Watch {
    const run = startBkdr(['-c', ws.config, 'dr', 'watch', ...args], { cwd: tmp.path, env: ws.env });
    children.add(run.child);
    return run;
  }

  /** SIGTERM is how a watch ends: exit 0. */
  async function stop(w: Watch): Promise<CliResult> {
    w.child.kill('SIGTERM');
    const r = await w.done;
    expect(r.code, r.stderr).toBe(0);
    return r;
  }

  async function history(ws: Ws, scenarioId: string): Promise<HistoryJson[]> {
    const r = await ws.run(['--json', 'dr', 'history', '--scenario', scenarioId]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as HistoryJson[];
  }

  /** Polls `dr history` every 200 ms until the scenario has an execution; how long that took. */
  async function firstExecution(ws: Ws, scenarioId: string, since: number, ms = 5_000): Promise<{ execution: HistoryJson; elapsed: number }> {
    for (;;) {
      const found = (await history(ws, scenarioId))[0];
      const elapsed = Date.now() - since;
      if (found) return { execution: found, elapsed };
      if (elapsed > ms) throw new Error(`no execution of ${scenarioId} within ${ms} ms`);
      await sleep(200);
    }
  }

  it('a new matching log line starts the scenario within 3 s; a matching line already in the file does not', async () => {
    const out = p('out-log');
    const log = p('app/db.log');
    await writeFile(log, '2026-12-04 ERROR: database index corruption (old)\n');
    const ws = await workspace(scenario('database-corruption', [{ type: 'log', condition: 'ERROR.*database.*corruption', paths: [p('app/*.log')] }], out));
    const watch = startWatch(ws);
    await watch.waitFor('watching');

    // Two polls of the tail (250 ms each) later, the old line has not fired.
    await sleep(700);
    expect(await history(ws, 'database-corruption')).toEqual([]);

    const appended = Date.now();
    await appendFile(log, '2026-12-05 ERROR: database page corruption detected\n');
    const { execution, elapsed } = await firstExecution(ws, 'database-corruption', appended);
    expect(elapsed).toBeLessThan(3_000);
    expect(execution.triggeredBy).toBe('automatic');
    expect(execution.detectionAt).not.toBeNull();

    await ran(out);
    await stop(watch);
    expect(await history(ws, 'database-corruption')).toHaveLength(1);
    expect(lines(out)).toEqual(['ran']);
  });

  it('a scraped metric starts the scenario only once it crosses the threshold', async () => {
    const out = p('out-metric');
    let value = 3;
    const { server, port } = await listen((req, _body, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE db_connection_failures counter\ndb_connection_failures ${value}\n`);
    });
    servers.push(server);
    const ws = await workspace({
      monitoring: { metrics: { url: `http://127.0.0.1:${port}/metrics`, interval: '250ms' } },
      ...scenario('db-failure', [{ type: 'metric', condition: 'db_connection_failures > 10' }], out),
    });
    const watch = startWatch(ws);
    await watch.waitFor('watching');

    await sleep(1_000);
    value = 10;
    await sleep(1_000);
    expect(await history(ws, 'db-failure')).toEqual([]);
    expect(lines(out)).toEqual([]);

    const crossed = Date.now();
    value = 11;
    const { execution, elapsed } = await firstExecution(ws, 'db-failure', crossed);
    expect(elapsed).toBeLessThan(3_000);
    expect(execution.triggeredBy).toBe('automatic');

    await ran(out);
    await stop(watch);
    expect(lines(out)).toEqual(['ran']);
  });

  it('an Alertmanager webhook needs the bearer token; a firing alert starts the scenario once however often it is posted', async () => {
    const out = p('out-external');
    const port = await freePort();
    const ws = await workspace({
      monitoring: { webhooks: { port, host: '127.0.0.1', token: 's3cret' } },
      ...scenario('datacenter-outage', [{ type: 'external', condition: 'datacenter_power_failure' }], out),
    });
    const watch = startWatch(ws);
    await watch.waitFor('watching');

    const payload = JSON.stringify({
      version: '4',
      status: 'firing',
      receiver: 'bkdr',
      groupKey: '{}:{}',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'datacenter_power_failure' },
          annotations: {},
          startsAt: new Date().toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          fingerprint: 'abc',
        },
      ],
    });
    const post = (headers: Record<string, string>) =>
      fetch(`http://127.0.0.1:${port}/hooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });

    const anonymous = await post({});
    expect(anonymous.status).toBe(401);
    await anonymous.text();
    await sleep(300);
    expect(await history(ws, 'datacenter-outage')).toEqual([]);

    const posted = Date.now();
    const first = await post({ authorization: 'Bearer s3cret' });
    expect(first.status).toBe(202);
    await first.text();
    const { execution, elapsed } = await firstExecution(ws, 'datacenter-outage', posted);
    expect(elapsed).toBeLessThan(3_000);
    expect(execution.triggeredBy).toBe('automatic');

    for (const again of await Promise.all([post({ authorization: 'Bearer s3cret' }), post({ authorization: 'Bearer s3cret' })])) {
      expect(again.status).toBe(202);
      await again.text();
    }
    await ran(out);
    await sleep(1_000);
    await stop(watch);
    const all = await history(ws, 'datacenter-outage');
    expect(all.map((e) => e.id)).toEqual([execution.id]);
    expect(lines(out)).toEqual(['ran']);
  });

  it('automatic: false starts nothing and announces the detection to the scenario notify webhook', async () => {
    const out = p('out-manual');
    const log = p('app/db.log');
    await writeFile(log, '');
    const announced: { url: string; body: string }[] = [];
    const { server, port } = await listen((req, body, res) => {
      announced.push({ url: `${req.method} ${req.url}`, body });
      res.end('ok');
    });
    servers.push(server);
    const ws = await workspace(
      scenario('database-corruption', [{ type: 'log', condition: 'ERROR.*database.*corruption', paths: [p('app/*.log')] }], out, {
        automatic: false,
        notify: { webhook: `http://127.0.0.1:${port}/announce` },
      }),
    );
    const watch = startWatch(ws);
    await watch.waitFor('watching');
    await sleep(500);

    const appended = Date.now();
    await appendFile(log, '2026-12-05 ERROR: database page corruption detected\n');
    while (announced.length === 0 && Date.now() - appended < 3_000) await sleep(100);
    expect(announced.map((a) => a.url)).toEqual(['POST /announce']);
    const message = JSON.parse(announced[0]!.body) as { text?: string; message?: string };
    expect(message.message ?? message.text).toContain('dr trigger database-corruption');

    await sleep(Math.max(0, 2_000 - (Date.now() - appended)));
    expect(await history(ws, 'database-corruption')).toEqual([]);
    expect(lines(out)).toEqual([]);
    await stop(watch);
  });

  it('--once samples a health check, starts the scenario of a down check, records the sample and exits', async () => {
    const out = p('out-health');
    const closed = await freePort();
    const ws = await workspace({
      monitoring: { healthChecks: { database_health: { type: 'tcp', target: `127.0.0.1:${closed}`, interval: '1s', timeout: '1s', failures: 1 } } },
      ...scenario('db-failure', [{ type: 'health_check', condition: 'database_health == false' }], out),
    });
    const watch = startWatch(ws, ['--once']);
    const timer = setTimeout(() => watch.child.kill('SIGKILL'), 15_000);
    const r = await watch.done;
    clearTimeout(timer);
    expect([0, 1], r.stderr).toContain(r.code);

    const all = await history(ws, 'db-failure');
    expect(all).toHaveLength(1);
    expect(all[0]!.triggeredBy).toBe('automatic');
    expect(lines(out)).toEqual(['ran']);

    const db = new Database(p('catalog.db'), { readonly: true });
    try {
      const { n } = db.prepare('SELECT COUNT(*) AS n FROM health_samples').get() as { n: number };
      expect(n).toBeGreaterThanOrEqual(1);
    } finally {
      db.close();
    }
  });

  // A trigger whose one look fails (a scrape of a closed port) is named in the error; the execution another started still ends.
  it('--once: a failing metric scrape does not abandon the execution a health check started', async () => {
    const closed = await freePort();
    const ws = await workspace({
      monitoring: { metrics: { url: `http://127.0.0.1:${closed}/metrics` }, healthChecks: { database_health: { type: 'tcp', target: `127.0.0.1:${closed}`, failures: 1 } } },
      scenarios: [
        {
          id: 'db-failure',
          name: 'db',
          severity: 'high',
          rto: 30,
          rpo: 60,
          affectedSystems: ['db'],
          automatic: true,
          triggers: [{ type: 'health_check', condition: 'database_health == false' }],
          recoveryPlans: ['slow'],
        },
        {
          id: 'db-metric',
          name: 'metric',
          severity: 'high',
          rto: 30,
          rpo: 60,
          affectedSystems: ['db'],
          automatic: true,
          triggers: [{ type: 'metric', condition: 'db_connection_failures > 10' }],
          recoveryPlans: ['slow'],
        },
      ],
      recoveryPlans: { slow: { steps: [{ id: 'mark', type: 'command', command: 'sleep 0.5' }] } },
    });
    const r = await startWatch(ws, ['--once']).done;
    expect([0, 1], r.stderr).toContain(r.code);
    const all = await history(ws, 'db-failure');
    expect(all.map((e) => e.status)).toEqual(['succeeded']);
  });
});
