import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { type PostgresServer, postgresAvailable, startPostgres } from '../helpers/postgres-server.js';

if (!postgresAvailable && process.env['CI']) throw new Error('CI must install postgresql for the DR database restore test');

interface ExecutionJson {
  status: string;
  steps: { id: string; status: string; detail: string | null; error: string | null }[];
  rpo: { achievedSeconds: number | null; met: boolean | null };
}

/**
 * A restore step into a database: the plan restores a logical backup of `app` into
 * `app_restored` of the same real server through the backup service, then a sql step
 * checks it; the RPO is measured from the backup's time.
 */
describe.skipIf(!postgresAvailable)('DR restore step into a database (PostgreSQL, logical)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let pg: PostgresServer;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-dr-db-');
    pg = await startPostgres();
    pg.sql('CREATE DATABASE app');
    pg.sql('CREATE TABLE orders (id int PRIMARY KEY, total numeric)', 'app');
    pg.sql('INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 5000) g', 'app');
    ws = await makeWorkspace(tmp.path, [], {
      sources: { app: { type: 'postgres', host: pg.host, port: pg.port, user: 'postgres', database: 'app' } },
      scenarios: [{ id: 'app-data-loss', name: 'App data loss', severity: 'high', rto: 10, rpo: 60, affectedSystems: ['app'], triggers: [], recoveryPlans: ['restore-app'] }],
      recoveryPlans: {
        'restore-app': {
          steps: [
            { id: 'restore', type: 'restore', source: 'app', targetDatabase: 'app_restored' },
            // The restored database, over the server's socket.
            { id: 'check', type: 'sql', url: `postgresql://postgres@/app_restored?host=${pg.host}&port=${pg.port}`, query: 'SELECT count(*) FROM orders', expect: 5000, dependsOn: ['restore'] },
          ],
        },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
    await tmp?.cleanup();
  });

  it('restores the newest backup into another database, checks it, and records the RPO', async () => {
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    pg.sql('DELETE FROM orders WHERE id > 10', 'app');
    const r = await ws.run(['--json', 'dr', 'trigger', 'app-data-loss', '--yes']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const e = JSON.parse(r.stdout) as ExecutionJson;
    expect(e.status).toBe('succeeded');
    expect(e.steps.map((s) => [s.id, s.status])).toEqual([
      ['restore-app/restore', 'succeeded'],
      ['restore-app/check', 'succeeded'],
    ]);
    expect(e.steps[0]!.detail).toMatch(/app_restored/);
    expect(pg.sql('SELECT count(*), sum(total) FROM orders', 'app_restored')).toBe('5000|18753750.0');
    // The source database is left as it was: the restore went where the step said.
    expect(pg.sql('SELECT count(*) FROM orders', 'app')).toBe('10');
    expect(e.rpo.met).toBe(true);
    expect(e.rpo.achievedSeconds).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
