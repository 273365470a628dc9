import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackgroundRun, makeTempDir, makeWorkspace, startBkdr } from '../helpers/cli.js';

/**
 * `bkdr serve` through the real CLI in a child process, queried over HTTP by real GraphQL
 * documents (DESIGN.md "Serving"): answers equal the CLI's `--json`, mutations return at
 * once and their work shows in the catalog, subscriptions arrive as server-sent events,
 * tokens and limits refuse what they must, /metrics passes promtool, SIGTERM ends it with
 * nothing left running.
 */

const READ = 'read-token-0123456789';
const OPERATE = 'operate-token-9876543210';
const PROMTOOL = '/usr/bin/promtool';

type Ws = Awaited<ReturnType<typeof makeWorkspace>>;

interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startServe(ws: Ws, dir: string, extra: string[] = []): Promise<{ run: BackgroundRun; url: string }> {
  const run = startBkdr(['-c', ws.config, 'serve', '--port', '0', ...extra], { cwd: dir, env: ws.env });
  await run.waitFor('listening on', 15_000);
  const url = /listening on (\S+)/.exec(run.stderr())![1]!;
  return { run, url };
}

async function stop(run: BackgroundRun): Promise<{ code: number | null; stderr: string }> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGTERM');
  const result = await run.done;
  return { code: result.code, stderr: result.stderr };
}

function gql<T = Record<string, unknown>>(url: string, query: string, token: string | undefined = READ, variables?: Record<string, unknown>): Promise<{ status: number; body: GraphQLResponse<T> }> {
  return fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as GraphQLResponse<T> }));
}

/** A subscription over server-sent events: every `next` payload until `complete`. */
async function subscribe<T>(url: string, query: string, ms = 30_000): Promise<T[]> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${READ}` },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(ms),
  });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: T[] = [];
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n');
      if (event === 'complete') return events;
      if (event === 'next') {
        const payload = JSON.parse(data) as GraphQLResponse<T>;
        expect(payload.errors).toBeUndefined();
        events.push(payload.data!);
      }
    }
  }
  return events;
}

describe('bkdr serve', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Ws;
  let serve: { run: BackgroundRun; url: string };

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-serve-');
    const data = join(tmp.path, 'data');
    await mkdir(join(data, 'deep/er'), { recursive: true });
    await writeFile(join(data, 'a.txt'), 'alpha\n');
    await writeFile(join(data, 'deep/er/b.txt'), 'beta\n');
    ws = await makeWorkspace(tmp.path, [data], {
      scenarios: [
        {
          id: 'drill',
          name: 'Drill',
          severity: 'low',
          rto: 5,
          rpo: 60,
          affectedSystems: ['app'],
          automatic: true,
          triggers: [{ type: 'external', condition: 'drill_now' }],
          recoveryPlans: ['drill-plan'],
        },
        { id: 'long', name: 'Long', severity: 'low', rto: 5, rpo: 60, affectedSystems: ['app'], triggers: [], recoveryPlans: ['long-plan'] },
      ],
      recoveryPlans: {
        'drill-plan': {
          steps: [
            { id: 'pause', type: 'wait', duration: '1s' },
            { id: 'mark', type: 'command', command: `echo drilled >> '${join(tmp.path, 'drill.log')}'`, dependsOn: ['pause'] },
          ],
        },
        'long-plan': { steps: [{ id: 'hold', type: 'wait', duration: '60s' }] },
      },
      serve: {
        corsOrigins: ['https://dashboard.example'],
        tokens: [
          { name: 'grafana', role: 'read', token: READ },
          { name: 'ops', role: 'operate', token: OPERATE },
        ],
      },
    });
    for (const content of ['one', 'two']) {
      await writeFile(join(data, 'a.txt'), `${content}\n`);
      expect((await ws.run(['backup', 'run', '--quiet'])).code).toBe(0);
    }
    serve = await startServe(ws, tmp.path);
  }, 60_000);

  afterAll(async () => {
    if (serve) await stop(serve.run);
    await tmp?.cleanup();
  });

  it('backupStatus equals `backup status --json` after two real backups', async () => {
    const cli = JSON.parse((await ws.run(['--json', 'backup', 'status'])).stdout) as { totalBackups: number; recentFailures: unknown[]; lastBackup: string; storageUsage: number };
    const { body } = await gql<{ backupStatus: Record<string, unknown> }>(serve.url, '{ backupStatus { totalBackups recentFailures lastBackup storageUsage } }');
    expect(body.errors).toBeUndefined();
    expect(cli.totalBackups).toBe(2);
    expect(body.data!.backupStatus).toEqual({ totalBackups: cli.totalBackups, recentFailures: cli.recentFailures.length, lastBackup: cli.lastBackup, storageUsage: cli.storageUsage });
  });

  it('createBackup returns a run id at once; the subscription follows it to its end; `backup list` shows the backup', async () => {
    const before = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as { id: string }[];
    await writeFile(join(tmp.path, 'data/c.txt'), 'gamma\n');
    const { body } = await gql<{ createBackup: { id: string; status: string } }>(serve.url, 'mutation { createBackup(sources: ["files"], type: incremental, priority: high) { id status } }', OPERATE);
    expect(body.errors).toBeUndefined();
    const runId = body.data!.createBackup.id;
    expect(body.data!.createBackup.status).toBe('running');
    const events = await subscribe<{ backupProgress: { runId: string; kind: string; status: string } }>(serve.url, `subscription { backupProgress(runId: "${runId}") { runId kind status } }`);
    expect(events.at(-1)!.backupProgress).toEqual({ runId, kind: 'backup', status: 'succeeded' });
    const after = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as { id: string }[];
    expect(after).toHaveLength(before.length + 1);
    const logs = JSON.parse((await ws.run(['--json', 'backup', 'logs', runId])).stdout) as { run: { status: string } };
    expect(logs.run.status).toBe('succeeded');
  });

  it('backupProgress of a run whose process was killed ends, as died', async () => {
    const config = join(tmp.path, 'slow.config.json');
    const base = JSON.parse(readFileSync(ws.config, 'utf8')) as Record<string, unknown>;
    await writeFile(config, JSON.stringify({ ...base, sources: { slow: { type: 'command', command: 'sleep 4; echo late', filename: 'late.txt' } } }));
    const cli = startBkdr(['-c', config, 'backup', 'run', '--source', 'slow'], { cwd: tmp.path, env: ws.env });
    try {
      let runId: string | undefined;
      const until = Date.now() + 10_000;
      while (!runId && Date.now() < until) {
        const db = new Database(ws.env['BKDR_CATALOG']!, { readonly: true });
        runId = (db.prepare("SELECT id FROM runs WHERE status = 'running' AND source = 'slow'").get() as { id: string } | undefined)?.id;
        db.close();
        if (!runId) await sleep(100);
      }
      expect(runId).toBeDefined();
      cli.child.kill('SIGKILL');
      await cli.done;
      const events = await subscribe<{ backupProgress: { status: string } }>(serve.url, `subscription { backupProgress(runId: "${runId}") { status } }`, 10_000);
      expect(events.at(-1)!.backupProgress.status).toBe('died');
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
      await cli.done;
    }
  });

  it('triggerRecovery streams the execution over the subscription to succeeded', async () => {
    const { body } = await gql<{ triggerRecovery: { id: string; status: string } }>(serve.url, 'mutation { triggerRecovery(scenarioId: "drill") { id status } }', OPERATE);
    expect(body.errors).toBeUndefined();
    const id = body.data!.triggerRecovery.id;
    const events = await subscribe<{ executionProgress: { status: string; progress: number; steps: { id: string; status: string }[] } }>(
      serve.url,
      `subscription { executionProgress(id: "${id}") { status progress steps { id status } } }`,
    );
    expect(events.length).toBeGreaterThan(1);
    const progress = events.map((e) => e.executionProgress.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(events.at(-1)!.executionProgress).toMatchObject({ status: 'succeeded', progress: 100, steps: [{ status: 'succeeded' }, { status: 'succeeded' }] });
    expect(readFileSync(join(tmp.path, 'drill.log'), 'utf8')).toBe('drilled\n');
    const cli = JSON.parse((await ws.run(['--json', 'dr', 'status', id])).stdout) as { status: string; triggeredBy: string };
    expect(cli).toMatchObject({ status: 'succeeded', triggeredBy: 'ops' });
  });

  it('no token is 401 everywhere but /healthz; a read token cannot run a mutation, and nothing is done', async () => {
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
    for (const path of ['/graphql', '/metrics', '/hooks/trigger'])
      expect((await fetch(`${serve.url}${path}`, { method: path === '/metrics' ? 'GET' : 'POST', body: path === '/metrics' ? null : '{}' })).status, path).toBe(401);
    expect((await gql(serve.url, '{ backupStatus { totalBackups } }', '')).status).toBe(401);
    expect((await gql(serve.url, '{ backupStatus { totalBackups } }', 'not-a-token')).status).toBe(401);

    const runsBefore = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as unknown[];
    const executionsBefore = JSON.parse((await ws.run(['--json', 'dr', 'history'])).stdout) as unknown[];
    for (const mutation of ['createBackup(sources: ["files"]) { id }', 'triggerRecovery(scenarioId: "drill") { id }', 'conductComplianceAssessment(framework: "SOX") { id }']) {
      const { body } = await gql(serve.url, `mutation { ${mutation} }`, READ);
      expect(body.errors?.[0]?.extensions?.code, mutation).toBe('FORBIDDEN');
      expect(body.errors?.[0]?.message).toMatch(/needs a token with role operate/);
    }
    await sleep(300);
    expect(JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout)).toHaveLength(runsBefore.length);
    expect(JSON.parse((await ws.run(['--json', 'dr', 'history'])).stdout)).toHaveLength(executionsBefore.length);
    expect(JSON.parse((await ws.run(['--json', 'compliance', 'list'])).stdout)).toEqual([]);
  });

  it('refuses a depth-20 query and a 10 MiB body; errors carry no stack trace and no secret', async () => {
    let nested = 'id';
    for (let i = 0; i < 19; i++) nested = `id parentBackup { ${nested} }`;
    const deep = await gql(serve.url, `{ backups { ${nested} } }`);
    expect(deep.body.data ?? null).toBeNull();
    expect(deep.body.errors?.[0]?.message).toMatch(/depth/i);

    const big = await fetch(`${serve.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${READ}` },
      body: JSON.stringify({ query: `{ backups { id } } # ${'x'.repeat(10 * 1024 * 1024)}` }),
    }).catch((err: unknown) => err as Error);
    // Refused by its declared length, before it is read: a 413, or the connection closed while the client still sent.
    if (big instanceof Error) expect(big.message).toMatch(/fetch failed|socket|closed|reset/i);
    else expect(big.status).toBe(413);

    const missing = await gql(serve.url, '{ backup(id: "deadbeef") { id } }');
    const text = JSON.stringify(missing.body);
    expect(missing.body.errors?.[0]?.message).toMatch(/deadbeef/);
    expect(text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/);
    const everything = JSON.stringify(
      (
        await gql(
          serve.url,
          '{ backupStatus { totalBackups destinations { name } } executiveDashboard { generatedAt kpis { name } } recoveryStatus { readinessScore } risks { id } assessments { id } }',
        )
      ).body,
    );
    for (const secret of [OPERATE, READ, ws.env['BKDR_PASSWORD']!]) expect(everything).not.toContain(secret);
  });

  it('CORS: only a listed origin is allowed; a preflight needs no token but reaches nothing else', async () => {
    const preflight = (origin: string, path = '/graphql') =>
      fetch(`${serve.url}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    const allowed = await preflight('https://dashboard.example');
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://dashboard.example');
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
    expect((await preflight('https://dashboard.example', '/metrics')).status).toBe(401);
    const answer = await fetch(`${serve.url}/graphql`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json', authorization: `Bearer ${READ}` },
      body: JSON.stringify({ query: '{ backupStatus { totalBackups } }' }),
    });
    expect(answer.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
  });

  it('bound to 127.0.0.1, it is not reachable on another local address', async () => {
    const port = Number(new URL(serve.url).port);
    const others = ['127.0.0.2', ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address))];
    for (const host of others) {
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({ host, port, timeout: 2000 });
        socket.once('connect', () => (socket.destroy(), resolve('connected')));
        socket.once('timeout', () => (socket.destroy(), resolve('timeout')));
        socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      });
      expect(outcome, host).not.toBe('connected');
    }
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('/metrics passes promtool and carries each source’s last success as the catalog has it', async () => {
    const response = await fetch(`${serve.url}/metrics`, { headers: { authorization: `Bearer ${READ}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await response.text();
    if (existsSync(PROMTOOL)) {
      const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: body, encoding: 'utf8' });
      expect(`${check.stdout}${check.stderr}`).toBe('');
      expect(check.status).toBe(0);
    } else if (process.env['CI']) throw new Error('CI must install prometheus (promtool)');
    const newest = (JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as { time: string; source: string; destination: string }[]).reduce((a, b) => (a.time > b.time ? a : b));
    const line = body.split('\n').find((l) => l.startsWith(`bkdr_backup_last_success_timestamp_seconds{source="${newest.source}",destination="${newest.destination}"} `));
    expect(line).toBeDefined();
    expect(Number(line!.split(' ').at(-1))).toBe(Date.parse(newest.time) / 1000);
    const status = JSON.parse((await ws.run(['--json', 'backup', 'status'])).stdout) as { destinations: { name: string; type: string; storedBytes: number }[] };
    const size = body.split('\n').find((l) => l.startsWith('bkdr_repository_size_bytes{destination="local",type="local"} '));
    expect(Number(size?.split(' ').at(-1))).toBe(status.destinations[0]!.storedBytes);
  });

  it('the DR hooks are served: an operate token starts the scenario named by the condition', async () => {
    const before = (JSON.parse((await ws.run(['--json', 'dr', 'history', '--scenario', 'drill'])).stdout) as unknown[]).length;
    const hook = await fetch(`${serve.url}/hooks/trigger`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATE}`, 'content-type': 'application/json' },
      body: JSON.stringify({ condition: 'drill_now' }),
    });
    expect(hook.status).toBe(202);
    const until = Date.now() + 15_000;
    let history: { status: string; triggeredBy: string }[] = [];
    while (Date.now() < until) {
      history = JSON.parse((await ws.run(['--json', 'dr', 'history', '--scenario', 'drill'])).stdout) as typeof history;
      if (history.length > before && history[0]!.status === 'succeeded') break;
      await sleep(300);
    }
    expect(history, serve.run.stderr()).toHaveLength(before + 1);
    expect(history[0]).toMatchObject({ status: 'succeeded', triggeredBy: 'automatic' });
  });

  it('SIGTERM interrupts a running recovery, records it, and exits 0', async () => {
    const second = await startServe(ws, tmp.path);
    try {
      const { body } = await gql<{ triggerRecovery: { id: string } }>(second.url, 'mutation { triggerRecovery(scenarioId: "long") { id } }', OPERATE);
      const id = body.data!.triggerRecovery.id;
      await sleep(500);
      const { code, stderr } = await stop(second.run);
      expect(code, stderr).toBe(0);
      const status = JSON.parse((await ws.run(['--json', 'dr', 'status', id])).stdout) as { status: string };
      expect(status.status).toBe('interrupted');
    } finally {
      await stop(second.run);
    }
  });

  it('serves HTTPS with --cert/--key', async () => {
    const cert = join(tmp.path, 'cert.pem');
    const key = join(tmp.path, 'key.pem');
    const made = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    const tls = await startServe(ws, tmp.path, ['--cert', cert, '--key', key]);
    try {
      expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(`${tls.url}/graphql`, { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json', authorization: `Bearer ${READ}` } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ query: '{ backupStatus { totalBackups } }' }));
      });
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as GraphQLResponse<{ backupStatus: { totalBackups: number } }>).data!.backupStatus.totalBackups).toBeGreaterThanOrEqual(2);
    } finally {
      await stop(tls.run);
    }
  });
});
