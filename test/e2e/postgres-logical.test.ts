import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkdrBin, makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { type PostgresServer, postgresAvailable, startPostgres } from '../helpers/postgres-server.js';

if (!postgresAvailable && process.env['CI']) throw new Error('CI must install postgresql for the PostgreSQL source tests');

/** Runs the CLI and samples its peak resident memory (VmHWM) from /proc while it runs. */
function runMeasured(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; peakKiB: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bkdrBin, ...args], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let peakKiB = 0;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const sample = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
      } catch {
        // Exited between samples.
      }
    }, 20);
    child.on('close', (code) => {
      clearInterval(sample);
      resolve({ code, stderr, peakKiB });
    });
  });
}

describe.skipIf(!postgresAvailable)('PostgreSQL logical backups', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let pg: PostgresServer;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-pgdump-');
    pg = await startPostgres();
    pg.sql('CREATE DATABASE app');
    pg.sql("CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2), created timestamptz NOT NULL DEFAULT '2026-01-01')", 'app');
    pg.sql("INSERT INTO items (id, name, price) SELECT g, md5(g::text) || repeat('x', 40), (g % 10000) / 100.0 FROM generate_series(1, 1000000) g", 'app');
    ws = await makeWorkspace(tmp.path, [], { sources: { db: { type: 'postgres', host: pg.host, port: pg.port, user: 'postgres', database: 'app' } } });
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
    await tmp?.cleanup();
  });

  const fingerprint = (database: string) => pg.sql("SELECT count(*) || ':' || sum(hashtext(i::text)) FROM items i", database);

  it('streams a dump of a million rows into the repository with bounded memory, and restores it row for row into another database', async () => {
    const dumpBytes = Number(pg.sql("SELECT pg_total_relation_size('items')", 'app'));
    const backup = await runMeasured(['-c', ws.config, 'backup', 'run'], ws.env);
    expect(backup.code, backup.stderr).toBe(0);
    // The dump is ~100 MB; the process holds at most a few packs of it, never the whole.
    expect(dumpBytes).toBeGreaterThan(100 * 1024 * 1024);
    expect(backup.peakKiB).toBeGreaterThan(0);
    expect(backup.peakKiB * 1024).toBeLessThan(dumpBytes * 2);
    if (process.env['BKDR_REPORT_MEMORY']) console.log(`pg_dump of ${dumpBytes} bytes: peak RSS ${backup.peakKiB} KiB`);

    const r = await ws.run(['restore', '--source', 'db', '--target-db', 'app_restored']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pg_restore into database app_restored/);
    expect(fingerprint('app_restored')).toBe(fingerprint('app'));
    expect(fingerprint('app')).toMatch(/^1000000:/);
  }, 120_000);

  it('refuses to restore over a database that has tables, touching nothing, and replaces them with --force', async () => {
    pg.sql('DELETE FROM items WHERE id % 2 = 0', 'app_restored');
    const changed = fingerprint('app_restored');
    const refused = await ws.run(['restore', '--source', 'db', '--target-db', 'app_restored']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/source db: database app_restored already holds \d+ table\(s\), view\(s\) or sequence\(s\), which the restore would replace; pass --force/);
    expect(fingerprint('app_restored')).toBe(changed);

    const forced = await ws.run(['restore', '--source', 'db', '--target-db', 'app_restored', '--force']);
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect(fingerprint('app_restored')).toBe(fingerprint('app'));
  }, 120_000);

  it('restores the dump as a file with --target, and a failing pg_dump makes no backup', async () => {
    const target = join(tmp.path, 'dump');
    expect((await ws.run(['restore', '--source', 'db', '--target', target])).code).toBe(0);
    expect(readFileSync(join(target, 'app.pgdump')).subarray(0, 5).toString()).toBe('PGDMP');

    await mkdir(join(tmp.path, 'bad'));
    const bad = await makeWorkspace(join(tmp.path, 'bad'), [], { sources: { db: { type: 'postgres', host: pg.host, port: pg.port, user: 'postgres', database: 'missing_db' } } });
    const r = await bad.run(['backup', 'run']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/source db: .*pg_dump exited with 1: .*database "missing_db" does not exist/);
    expect(JSON.parse((await bad.run(['--json', 'backup', 'list'])).stdout)).toEqual([]);
  });
});
