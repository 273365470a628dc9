import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, repoRoot, runBkdr } from '../helpers/cli.js';

const appDir = join(repoRoot, 'examples/pothos-app');
const password = 'example-password';

interface ListedBackup {
  id: string;
  time: string;
}

interface RunLogs {
  run: { id: string; status: string; summary: { backups: { snapshotId: string }[] } | null };
}

/** The compiled app as a child process, with what it has printed so far. */
interface RunningApp {
  child: ChildProcess;
  url: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

function startApp(env: NodeJS.ProcessEnv): RunningApp {
  const child = spawn(process.execPath, [join(appDir, 'dist/server.js')], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 20 s:\n${output}`)), 20_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the app exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });
  // The test awaits `url` only on some paths; an early exit must not become an unhandled rejection.
  url.catch(() => {});
  return { child, url, exited, output: () => output };
}

async function graphql(url: string, query: string): Promise<{ data?: Record<string, unknown>; errors?: unknown[] }> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

/**
 * examples/pothos-app as its reader would use it: compiled with its own tsconfig against the
 * built package, then run as a process that answers the app's own query and bkdr's fields in
 * one schema, over a real repository that the CLI backed up. The second test runs what the
 * first compiled (tests in a file run in order).
 */
describe('examples/pothos-app: an application mounting bkdr’s GraphQL schema pieces', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let config: string;
  const apps: RunningApp[] = [];
  const bkdr = (args: string[]) => runBkdr(['-c', config, ...args], { cwd: tmp.path, env: { BKDR_PASSWORD: password } });

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-pothos-app-');
    const data = join(tmp.path, 'data');
    await mkdir(data);
    await writeFile(join(data, 'invoices.csv'), 'id,total\n1,10\n2,32\n');
    await writeFile(join(data, 'notes.txt'), 'quarterly close\n');
    config = join(tmp.path, 'bkdr.config.json');
    await writeFile(
      config,
      JSON.stringify({
        sources: { files: { type: 'files', paths: [data] } },
        destinations: [{ name: 'local', type: 'local', encryption: true, config: { path: join(tmp.path, 'repo') } }],
        catalog: { path: join(tmp.path, 'catalog.db') },
      }),
    );
  });

  afterEach(async () => {
    // Whatever the test's outcome, no app outlives it.
    for (const app of apps.splice(0)) {
      if (app.child.exitCode === null && app.child.signalCode === null) {
        app.child.kill('SIGKILL');
        await app.exited;
      }
    }
  });

  afterAll(async () => {
    await tmp?.cleanup();
  });

  it('compiles with its own tsconfig against the built bkdr and bkdr/graphql', () => {
    const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', appDir], { cwd: repoRoot, encoding: 'utf8' });
    expect(tsc.status, `tsc -p examples/pothos-app:\n${tsc.stdout}${tsc.stderr}`).toBe(0);
  }, 60_000);

  it('answers its own todos and bkdr’s backupStatus in one document, starts a backup by mutation, and exits 0 on SIGTERM', async () => {
    const first = await bkdr(['backup', 'run']);
    expect(first.code, first.stderr).toBe(0);
    const listed = await bkdr(['backup', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const before = JSON.parse(listed.stdout) as ListedBackup[];
    expect(before).toHaveLength(1);

    const app = startApp({ PORT: '0', BKDR_CONFIG: config, BKDR_PASSWORD: password });
    apps.push(app);
    const url = await app.url;

    const both = await graphql(url, '{ todos { id title done } backupStatus { totalBackups lastBackup } }');
    expect(both.errors, JSON.stringify(both.errors)).toBeUndefined();
    expect(both.data).toEqual({
      todos: [
        { id: '1', title: 'Write the restore runbook', done: true },
        { id: '2', title: 'Run a DR test', done: false },
      ],
      backupStatus: { totalBackups: 1, lastBackup: before[0]!.time },
    });

    const started = await graphql(url, 'mutation { createBackup(sources: ["files"]) { id status } }');
    expect(started.errors, JSON.stringify(started.errors)).toBeUndefined();
    const runId = (started.data?.createBackup as { id: string; status: string }).id;
    expect(runId).toMatch(/\S/);

    // The run is the app's, recorded in the shared catalog: the CLI sees it finish and the snapshot it wrote.
    let run: RunLogs['run'] | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const logs = await bkdr(['backup', 'logs', runId, '--json']);
      if (logs.code !== 0) continue;
      run = (JSON.parse(logs.stdout) as RunLogs).run;
      if (run.status !== 'running') break;
    }
    expect(run?.status, app.output()).toBe('succeeded');
    const after = JSON.parse((await bkdr(['backup', 'list', '--json'])).stdout) as ListedBackup[];
    expect(after).toHaveLength(2);
    const newSnapshot = run!.summary!.backups[0]!.snapshotId;
    expect(after.map((b) => b.id).sort()).toEqual([before[0]!.id, newSnapshot].sort());

    app.child.kill('SIGTERM');
    expect(await app.exited, app.output()).toEqual({ code: 0, signal: null });
  }, 120_000);
});
