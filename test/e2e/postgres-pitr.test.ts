import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { stopSpoolWorkers } from '../helpers/wal-spool.js';
import { type PostgresServer, postgresAvailable, shareWithCluster, startPostgres } from '../helpers/postgres-server.js';

if (!postgresAvailable && process.env['CI']) throw new Error('CI must install postgresql for the PostgreSQL source tests');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!postgresAvailable)('PostgreSQL physical backups and point-in-time restore', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let pg: PostgresServer;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let restored: PostgresServer | undefined;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-pitr-');
    const passwordFile = join(tmp.path, 'password');
    await writeFile(passwordFile, 'test-password\n');
    // The config names the cluster before it starts: its archive_command reads it from the first WAL switch on.
    const port = await freePort();
    const socketDir = join(tmp.path, 'sock');
    ws = await makeWorkspace(tmp.path, [], {
      sources: { database: { type: 'postgres', host: socketDir, port, user: 'postgres', mode: 'physical' } },
      encryption: { passwordFile },
    });
    // The cluster's archive_command runs bkdr as the postgres user: it reads this config and writes this repository.
    await shareWithCluster(tmp.path);
    // As an operator would set it: the line `wal archive-command` prints (native bkdr-wal, --async, a spool).
    const printed = await ws.run(['wal', 'archive-command', '--spool', spool()]);
    expect(printed.code, printed.stderr).toBe(0);
    const archiveCommand = /^archive_command = '(.*)'$/m.exec(printed.stdout)![1]!.replace(/''/g, "'");
    expect(archiveCommand).toMatch(/bkdr-wal" -c .* -q wal push --source database --async --spool ".*wal-spool" %p$/);
    pg = await startPostgres({
      port,
      socketDir,
      // Asynchronous, as the docs advise for a busy cluster: the spool's worker stores segments ahead of being asked.
      settings: { archive_mode: 'on', archive_command: archiveCommand },
      env: { BKDR_PASSWORD_FILE: passwordFile },
    });
  }, 120_000);
  const spool = () => join(tmp.path, 'wal-spool');
  afterAll(async () => {
    await restored?.stop();
    await pg?.stop();
    // The spools' workers end by themselves once idle; a test does not leave them to.
    await stopSpoolWorkers(spool());
    if (restored) await stopSpoolWorkers(join(restored.dataDir, 'pg_wal', 'bkdr-spool'));
    await tmp?.cleanup();
  });

  /** Switches to a new segment and waits until the old one is archived; fails with the server log. */
  const waitArchived = async () => {
    const wal = pg.sql('SELECT pg_walfile_name(pg_current_wal_lsn())');
    pg.sql('SELECT pg_switch_wal()');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const last = pg.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
      if (last >= wal) return;
      await sleep(100);
    }
    throw new Error(`WAL ${wal} was not archived: ${pg.log()}`);
  };

  it('restores rows A and B but not C to the time between them, after the table was dropped', async () => {
    pg.sql('CREATE TABLE t (id int primary key, batch text)');
    pg.sql("INSERT INTO t SELECT g, 'A' FROM generate_series(1, 1000) g");
    // The first archived segment creates the repository as the cluster user, who must keep writing WAL into it.
    await waitArchived();
    const backup = await ws.run(['backup', 'run', '--source', 'database']);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);

    pg.sql("INSERT INTO t SELECT g, 'B' FROM generate_series(1001, 2000) g");
    await sleep(1100);
    const T = new Date().toISOString();
    await sleep(1100);
    pg.sql("INSERT INTO t SELECT g, 'C' FROM generate_series(2001, 3000) g");
    pg.sql('DROP TABLE t');
    await waitArchived();

    const status = await ws.run(['backup', 'status']);
    expect(status.stdout).toMatch(/database: recoverable from \S+ to \S+ \(point-in-time, on local\)/);

    const verify = await ws.run(['wal', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/database: \d+ WAL files archived on local/);

    const target = join(tmp.path, 'restored-data');
    const r = await ws.run(['restore', '--source', 'database', '--at', T, '--target', target]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/recovery to .* is configured: start PostgreSQL on it/);

    restored = await startPostgres({ dataDir: target, initialize: false, settings: { archive_mode: 'off' }, env: { BKDR_PASSWORD_FILE: join(tmp.path, 'password') } });
    const deadline = Date.now() + 60_000;
    while (restored.sql('SELECT pg_is_in_recovery()') === 't' && Date.now() < deadline) await sleep(200);
    expect(restored.sql('SELECT pg_is_in_recovery()')).toBe('f');
    expect(restored.sql('SELECT batch, count(*) FROM t GROUP BY batch ORDER BY batch')).toBe('A|1000\nB|1000');
    // Replayed through the fetch worker: restore configured it, and it staged inside pg_wal.
    expect(await readFile(join(target, 'postgresql.auto.conf'), 'utf8')).toMatch(/bkdr-wal" -c .* -q wal fetch --source database --async --spool "pg_wal\/bkdr-spool" %f/);
    expect(existsSync(join(target, 'pg_wal', 'bkdr-spool', 'fetch'))).toBe(true);
  });

  it('prune expires WAL older than the oldest kept base backup, and the rest of the archive has no gaps', async () => {
    const cfg = JSON.parse(await readFile(ws.config, 'utf8')) as Record<string, unknown>;
    await writeFile(ws.config, JSON.stringify({ ...cfg, retention: { last: 1 } }));
    pg.sql('CREATE TABLE later (id int)');
    await waitArchived();
    expect((await ws.run(['backup', 'run', '--source', 'database'])).code).toBe(0);
    const before = await ws.run(['--json', 'wal', 'verify']);
    const firstBefore = (JSON.parse(before.stdout) as { first: string }).first;

    const pruned = await ws.run(['backup', 'prune']);
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(0);
    const match = /deleted (\d+) WAL files of database older than ([0-9A-F]{24})/.exec(pruned.stdout);
    expect(match, pruned.stdout).not.toBeNull();
    expect(Number(match![1])).toBeGreaterThan(0);
    const after = JSON.parse((await ws.run(['--json', 'wal', 'verify'])).stdout) as { first: string; gaps: unknown[] };
    expect(after.first > firstBefore).toBe(true);
    expect(after.first >= match![2]!).toBe(true);
    expect(after.gaps).toEqual([]);
  });

  it('refuses a time before the first base backup with exit 2, stating the recoverable window', async () => {
    const r = await ws.run(['restore', '--source', 'database', '--at', '2001-01-01T00:00:00Z', '--target', join(tmp.path, 'too-early')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/2001-01-01T00:00:00\.000Z is outside the recoverable window of database: \d{4}-\d\d-\d\dT[\d:.]+Z to \d{4}-\d\d-\d\dT[\d:.]+Z/);
  });
});
