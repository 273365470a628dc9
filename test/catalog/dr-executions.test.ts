import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import type { NewDrExecution } from '../../src/catalog/dr-executions-table.js';
import { migrations } from '../../src/catalog/migrations/index.js';
import { makeTempDir, repoRoot } from '../helpers/cli.js';

const execution = (over: Partial<NewDrExecution> = {}): NewDrExecution => ({
  scenarioId: 'db-failure',
  triggeredBy: 'oncall',
  reason: 'primary down',
  rtoTargetSeconds: 3600,
  rpoTargetSeconds: 900,
  plan: { plans: ['db', 'app'] },
  steps: [
    { planId: 'db', stepId: 'restore', type: 'restore', weight: 10 },
    { planId: 'db', stepId: 'approve', type: 'approval' },
    { planId: 'app', stepId: 'restart', type: 'command' },
  ],
  ...over,
});

/**
 * The catalog module bundled for a plain `node` child (no TypeScript loader there), with
 * better-sqlite3 loaded from this checkout's node_modules by absolute path.
 */
let bundle: string;
let bundleDir: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  bundleDir = await makeTempDir('bkdr-catalog-bundle-');
  bundle = join(bundleDir.path, 'catalog.mjs');
  const sqlite = createRequire(join(repoRoot, 'package.json')).resolve('better-sqlite3');
  await build({
    entryPoints: [join(repoRoot, 'src/catalog/catalog.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    plugins: [{ name: 'sqlite-absolute', setup: (b) => b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: sqlite, external: true })) }],
  });
  return () => bundleDir.cleanup();
});

/** A child process that opens the catalog, creates an execution, finishes its first step, starts the second, and stays alive. */
function startExecutionInChild(path: string): Promise<{ child: ChildProcess; id: string }> {
  const script = `
    import { openCatalog } from ${JSON.stringify(bundle)};
    const c = openCatalog(${JSON.stringify(path)});
    const id = c.drExecutions.create(${JSON.stringify(execution())});
    c.drExecutions.updateStep(id, 'db/restore', { status: 'succeeded', attempts: 1, startedAt: new Date(), endedAt: new Date(), output: { restoredAt: '2026-12-01T00:00:00.000Z' } });
    c.drExecutions.updateStep(id, 'db/approve', { status: 'running', attempts: 1, startedAt: new Date() });
    process.stdout.write(id + '\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, id: out.trim() });
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('DR executions in the catalog', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let path: string;
  let catalog: Catalog;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-dr-catalog-');
    path = join(tmp.path, 'catalog.db');
    catalog = openCatalog(path);
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  it('records an execution with its planned steps and reads it back in the CLI.md shape', () => {
    const started = new Date('2026-12-01T10:00:00.000Z');
    const id = catalog.drExecutions.create(execution({ startedAt: started, failureAt: new Date('2026-12-01T09:50:00.000Z') }));
    const e = catalog.drExecutions.get(id.slice(0, 6))!;
    expect(e).toMatchObject({
      id,
      scenarioId: 'db-failure',
      status: 'running',
      dryRun: false,
      triggeredBy: 'oncall',
      reason: 'primary down',
      startedAt: started.toISOString(),
      endedAt: null,
      failureAt: '2026-12-01T09:50:00.000Z',
      pid: process.pid,
      plan: { plans: ['db', 'app'] },
      rto: { targetSeconds: 3600, achievedSeconds: null, met: null },
      rpo: { targetSeconds: 900, achievedSeconds: null, met: null },
    });
    expect(e.steps.map((s) => [s.id, s.planId, s.type, s.status, s.attempts, s.weight])).toEqual([
      ['db/restore', 'db', 'restore', 'pending', 0, 10],
      ['db/approve', 'db', 'approval', 'pending', 0, 1],
      ['app/restart', 'app', 'command', 'pending', 0, 1],
    ]);

    const at = new Date('2026-12-01T10:05:00.000Z');
    catalog.drExecutions.updateStep(id, 'db/restore', { status: 'succeeded', attempts: 2, startedAt: started, endedAt: at, output: { restoredAt: 'x' } });
    catalog.drExecutions.updateStep(id, 'app/restart', { status: 'failed', error: 'exit 1' });
    expect(() => catalog.drExecutions.updateStep(id, 'app/nope', { status: 'running' })).toThrow(/no step app\/nope/);
    catalog.drExecutions.finish(id, 'failed', { endedAt: at, error: 'app/restart failed', rtoAchievedSeconds: 300, rpoAchievedSeconds: 1200 });
    const done = catalog.drExecutions.get(id)!;
    expect(done).toMatchObject({ status: 'failed', endedAt: at.toISOString(), error: 'app/restart failed' });
    expect(done.rto).toEqual({ targetSeconds: 3600, achievedSeconds: 300, met: true });
    expect(done.rpo).toEqual({ targetSeconds: 900, achievedSeconds: 1200, met: false });
    expect(done.steps[0]).toMatchObject({ status: 'succeeded', attempts: 2, startedAt: started.toISOString(), endedAt: at.toISOString(), output: { restoredAt: 'x' } });
    expect(done.steps[2]).toMatchObject({ status: 'failed', error: 'exit 1' });
  });

  it('records a dry run as planned, and finds nothing or refuses an ambiguous prefix', () => {
    const id = catalog.drExecutions.create(execution({ dryRun: true }));
    expect(catalog.drExecutions.get(id)).toMatchObject({ status: 'planned', dryRun: true });
    expect(catalog.drExecutions.active()).toEqual([]);
    expect(catalog.drExecutions.get('zz')).toBeUndefined();
    catalog.drExecutions.create(execution());
    expect(() => catalog.drExecutions.get('')).toThrow(/ambiguous/);
  });

  it('lists newest first, by scenario and since a time', () => {
    const ids = ['2026-12-01T10:00:00Z', '2026-12-03T10:00:00Z', '2026-12-02T10:00:00Z'].map((t, i) => {
      const id = catalog.drExecutions.create(execution({ startedAt: new Date(t), scenarioId: i === 1 ? 'dc-loss' : 'db-failure' }));
      // One active execution per scenario: the first db-failure ends before the second starts.
      if (i === 0) catalog.drExecutions.finish(id, 'succeeded');
      return id;
    });
    expect(catalog.drExecutions.list().map((e) => e.id)).toEqual([ids[1], ids[2], ids[0]]);
    expect(catalog.drExecutions.list({ limit: 1 }).map((e) => e.id)).toEqual([ids[1]]);
    expect(catalog.drExecutions.list({ scenarioId: 'db-failure' }).map((e) => e.id)).toEqual([ids[2], ids[0]]);
    expect(catalog.drExecutions.list({ since: new Date('2026-12-02T00:00:00Z') }).map((e) => e.id)).toEqual([ids[1], ids[2]]);
    expect(catalog.drExecutions.active('dc-loss').map((e) => e.id)).toEqual([ids[1]]);
  });

  it('refuses a second active execution of a scenario, and takes one once the first has ended', () => {
    const first = catalog.drExecutions.create(execution({ scenarioId: 'db-failure' }));
    expect(() => catalog.drExecutions.create(execution({ scenarioId: 'db-failure' }))).toThrow(/already has execution .* running .* not started twice/);
    expect(() => catalog.drExecutions.create(execution({ scenarioId: 'db-failure', dryRun: true }))).not.toThrow();
    catalog.drExecutions.finish(first, 'failed');
    expect(() => catalog.drExecutions.create(execution({ scenarioId: 'db-failure' }))).not.toThrow();
  });

  it('records one approval decision for a step waiting for it', () => {
    const id = catalog.drExecutions.create(execution());
    const store = catalog.drExecutions;
    expect(() => store.recordApproval({ executionId: id, stepId: 'approve', decision: 'approve', by: 'lead' })).toThrow(/not waiting for approval \(it is pending\)/);
    expect(() => store.recordApproval({ executionId: id, decision: 'approve', by: 'lead' })).toThrow(/no step waiting for approval/);
    store.updateStep(id, 'db/approve', { status: 'waiting-approval' });
    store.setStatus(id, 'waiting-approval');
    expect(store.get(id)!.status).toBe('waiting-approval');
    expect(store.pendingApproval(id, 'db/approve')).toBe(true);
    expect(store.pendingApproval(id, 'db/restore')).toBe(false);
    expect(store.decision(id, 'db/approve')).toBeUndefined();

    // From another connection, as `dr approve` in another shell: the executor's store sees it.
    const other = openCatalog(path);
    const approval = other.drExecutions.recordApproval({ executionId: id.slice(0, 8), decision: 'approve', by: 'oncall-lead', reason: 'go' });
    other.close();
    expect(approval).toMatchObject({ executionId: id, stepId: 'db/approve', decision: 'approve', by: 'oncall-lead', reason: 'go' });
    expect(store.decision(id, 'db/approve')).toEqual(approval);
    expect(store.pendingApproval(id, 'db/approve')).toBe(false);
    expect(() => store.recordApproval({ executionId: id, stepId: 'db/approve', decision: 'reject', by: 'cto' })).toThrow(/already approved by oncall-lead/);
    expect(() => store.recordApproval({ executionId: 'ffff', decision: 'reject', by: 'cto' })).toThrow(/no execution ffff/);
    expect(() => store.recordApproval({ executionId: id, stepId: 'nope', decision: 'reject', by: 'cto' })).toThrow(/no step nope/);
  });

  it('deletes steps and approvals with their execution, and keeps incidents', () => {
    const id = catalog.drExecutions.create(execution());
    catalog.drExecutions.updateStep(id, 'db/approve', { status: 'waiting-approval' });
    catalog.drExecutions.recordApproval({ executionId: id, decision: 'reject', by: 'lead' });
    const incident = catalog.incidents.open({ title: 'db down', severity: 'critical', executionId: id, scenarioId: 'db-failure' });
    catalog.db.prepare('DELETE FROM dr_executions WHERE id = ?').run(id);
    const count = (table: string) => catalog.db.prepare(`SELECT COUNT(*) FROM ${table} WHERE execution_id = ?`).pluck().get(id);
    expect(count('dr_steps')).toBe(0);
    expect(count('dr_approvals')).toBe(0);
    expect(catalog.incidents.get(incident)).toMatchObject({ executionId: null, scenarioId: 'db-failure' });
  });

  it('marks interrupted an execution whose process was killed, and claimForResume takes it over', async () => {
    const { child, id } = await startExecutionInChild(path);
    try {
      // Its process lives: not reaped, and not resumable.
      const meanwhile = openCatalog(path);
      expect(meanwhile.drExecutions.get(id)).toMatchObject({ status: 'running', pid: child.pid });
      expect(() => meanwhile.drExecutions.claimForResume(id)).toThrow(new RegExp(`running in process ${child.pid}; it is not interrupted`));
      meanwhile.close();
    } finally {
      await kill(child);
    }
    const after = openCatalog(path);
    const e = after.drExecutions.get(id)!;
    expect(e.status).toBe('interrupted');
    expect(e.error).toMatch(/ended without finishing/);
    expect(after.drExecutions.active()).toEqual([]);

    const claimed = after.drExecutions.claimForResume(id.slice(0, 8));
    expect(claimed).toMatchObject({ id, status: 'running', pid: process.pid, error: null });
    // Finished steps stay finished; the one it was in goes back to pending; attempts are kept.
    expect(claimed.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['db/restore', 'succeeded', 1],
      ['db/approve', 'pending', 1],
      ['app/restart', 'pending', 0],
    ]);
    expect(claimed.steps[0]!.output).toEqual({ restoredAt: '2026-12-01T00:00:00.000Z' });
    // Held by this live process now: a second resume is refused, and reaping leaves it alone.
    expect(() => after.drExecutions.claimForResume(id)).toThrow(/is running in process/);
    expect(after.drExecutions.reapDied()).toEqual([]);
    after.close();
  });

  it('claims an execution whose dead process was not reaped yet, and refuses finished ones', () => {
    const id = catalog.drExecutions.create(execution());
    catalog.db.prepare('UPDATE dr_executions SET pid = 2147483646 WHERE id = ?').run(id);
    expect(catalog.drExecutions.claimForResume(id)).toMatchObject({ status: 'running', pid: process.pid });
    catalog.drExecutions.finish(id, 'succeeded');
    expect(() => catalog.drExecutions.claimForResume(id)).toThrow(/is succeeded; only an interrupted execution can be resumed/);
    const elsewhere = catalog.drExecutions.create(execution());
    catalog.db.prepare("UPDATE dr_executions SET host = 'other-host', pid = 1 WHERE id = ?").run(elsewhere);
    expect(catalog.drExecutions.reapDied()).toEqual([]);
    expect(() => catalog.drExecutions.claimForResume(elsewhere)).toThrow(/on host other-host/);
  });

  it('is added to a catalog created at migration 3, keeping its runs', () => {
    const old = join(tmp.path, 'v3.db');
    const db = new Database(old);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of migrations.filter((m) => m.version <= 3)) {
      db.exec(m.up);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }
    db.prepare("INSERT INTO runs (id, kind, status, started_at) VALUES ('r1', 'backup', 'succeeded', '2026-11-01T00:00:00Z')").run();
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'dr_executions'").pluck().get()).toBe(0);
    db.close();

    const c = openCatalog(old);
    expect(c.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual(migrations.map((m) => m.version));
    expect(c.runs.get('r1')).toMatchObject({ status: 'succeeded' });
    const id = c.drExecutions.create(execution());
    expect(c.drExecutions.get(id)!.steps).toHaveLength(3);
    expect(c.db.pragma('foreign_key_check')).toEqual([]);
    c.close();
  });

  it('enforces the status values', () => {
    const id = catalog.drExecutions.create(execution());
    expect(() => catalog.db.prepare("UPDATE dr_executions SET status = 'done' WHERE id = ?").run(id)).toThrow(/CHECK/);
    expect(() => catalog.drExecutions.updateStep(id, 'db/restore', { status: 'done' as 'failed' })).toThrow(/CHECK/);
  });
});
