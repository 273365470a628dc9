import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repo/repository.js';
import { createLocalAdapter } from '../../src/storage/local.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { mariadbAvailable, type MariadbServer, startMariadbServer } from '../helpers/mariadb-server.js';

const ROWS = 20_000;

/** Row count and a checksum over every column of `orders`, NULLs included. */
async function fingerprint(server: MariadbServer, database: string): Promise<string> {
  return (
    await server.query(
      `SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', id, customer, amount, created, IFNULL(note, '<null>'), status))) FROM orders; SELECT COUNT(*) FROM audit; SELECT COUNT(*), SUM(amount) FROM big_orders`,
      database,
    )
  ).trim();
}

if (!mariadbAvailable && process.env['CI']) throw new Error('CI must install mariadb-server for the MySQL source tests');
describe.skipIf(!mariadbAvailable)('mysql source against a real MariaDB server', () => {
  let server: MariadbServer;
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    // Binary logging on, so the dump carries coordinates to record.
    server = await startMariadbServer({ binlog: true });
    tmp = await makeTempDir('bkdr-mysql-');
    await writeFile(join(tmp.path, 'db.password'), `${server.password}\n`, { mode: 0o600 });
    ws = await makeWorkspace(tmp.path, [], {
      sources: { db: { type: 'mysql', socket: server.socket, database: 'shop', user: server.user, passwordFile: 'db.password' } },
    });
    await server.query(`
      CREATE DATABASE shop CHARACTER SET utf8mb4;
      USE shop;
      CREATE TABLE orders (
        id INT PRIMARY KEY,
        customer VARCHAR(60) NOT NULL,
        amount DECIMAL(10, 2) NOT NULL,
        created DATETIME(3) NOT NULL,
        note TEXT NULL,
        status ENUM('new', 'paid', 'shipped') NOT NULL,
        KEY by_customer (customer)
      );
      CREATE TABLE audit (order_id INT NOT NULL, at DATETIME NOT NULL);
      CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit VALUES (NEW.id, NOW());
      CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 900;
      INSERT INTO orders
        SELECT seq, CONCAT('customer-', seq % 977, IF(seq % 13 = 0, ' ünïcødé 😀', '')), (seq * 7919) % 100000 / 100,
               TIMESTAMPADD(MICROSECOND, seq * 37001000, '2024-01-01 00:00:00'),
               IF(seq % 5 = 0, NULL, REPEAT(CONCAT('n', seq, ' '), seq % 9)), ELT(1 + seq % 3, 'new', 'paid', 'shipped')
        FROM seq_1_to_${ROWS};
    `);
  });
  afterAll(async () => {
    await server?.stop();
    await tmp?.cleanup();
  });

  it('dumps a database and restores it under another name, with its trigger and view', async () => {
    const before = await fingerprint(server, 'shop');
    expect(before.split('\n')[0]).toMatch(new RegExp(`^${ROWS}\\t\\d+$`));

    const backup = await ws.run(['--json', 'backup', 'run']);
    expect(backup.code, backup.stderr).toBe(0);
    const restore = await ws.run(['restore', '--source', 'db', '--target-db', 'shop_restored']);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/shop_restored/);

    expect(await fingerprint(server, 'shop_restored')).toBe(before);
    // The restored trigger writes to the restored database's audit table, not the original's.
    await server.query('INSERT INTO orders VALUES (999999, "x", 1, NOW(), NULL, "new")', 'shop_restored');
    expect((await server.query('SELECT COUNT(*) FROM audit', 'shop_restored')).trim()).toBe(String(ROWS + 1));
    expect((await server.query('SELECT COUNT(*) FROM audit', 'shop')).trim()).toBe(String(ROWS));
  });

  it('refuses to restore over a database that has tables, touching nothing, and replaces them with --force', async () => {
    // shop_restored holds the restore of the test above plus one order and audit row added since.
    const changed = await fingerprint(server, 'shop_restored');
    const refused = await ws.run(['restore', '--source', 'db', '--target-db', 'shop_restored']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/source db: database shop_restored already holds \d+ table\(s\), which the restore would replace; pass --force/);
    expect(await fingerprint(server, 'shop_restored')).toBe(changed);

    const forced = await ws.run(['restore', '--source', 'db', '--target-db', 'shop_restored', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await fingerprint(server, 'shop_restored')).toBe(await fingerprint(server, 'shop'));
  });

  it('records the binary log coordinates of the dump in the snapshot', async () => {
    const [listed] = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as { id: string }[];
    const repo = await Repository.open(createLocalAdapter({ name: 'local', path: ws.repo }), { password: 'test-password' });
    try {
      const snapshot = await repo.loadSnapshot(listed!.id);
      expect(snapshot.meta).toEqual({ binlogFile: expect.stringMatching(/^binlog\.\d+$/), binlogPosition: expect.any(Number), gtidPosition: expect.stringMatching(/^\d+-\d+-\d+$/) });
      expect(JSON.stringify(snapshot)).not.toContain(server.password);
    } finally {
      await repo.close();
    }
  });

  it('never lets the password out of the password file', async () => {
    const list = await ws.run(['--json', 'backup', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const backups = JSON.parse(list.stdout) as { id: string }[];
    expect(backups).toHaveLength(1);
    expect(list.stdout).not.toContain(server.password);

    const show = await ws.run(['--json', 'backup', 'show', backups[0]!.id]);
    expect(show.code, show.stderr).toBe(0);
    expect((JSON.parse(show.stdout) as { backup: { paths: string[] } }).backup.paths).toEqual([`mysql:${server.socket}/shop`]);
    expect(show.stdout).not.toContain(server.password);

    for (const args of [
      ['config', 'show'],
      ['--json', 'config', 'show'],
    ]) {
      const config = await ws.run(args);
      expect(config.code, config.stderr).toBe(0);
      expect(config.stdout + config.stderr).not.toContain(server.password);
    }
    // The catalog and its WAL, byte for byte.
    for (const file of (await readdir(tmp.path)).filter((f) => f.startsWith('catalog.db'))) {
      expect((await readFile(join(tmp.path, file))).includes(server.password), file).toBe(false);
    }
  });

  it('fails a backup with a wrong password in one line naming the source, and lists no backup', async () => {
    const dir = join(tmp.path, 'wrong');
    await mkdir(dir);
    await writeFile(join(dir, 'db.password'), 'not-the-password\n');
    const bad = await makeWorkspace(dir, [], {
      sources: { db: { type: 'mysql', socket: server.socket, database: 'shop', user: server.user, passwordFile: 'db.password' } },
    });
    const run = await bad.run(['backup', 'run']);
    expect(run.code).toBe(1);
    // Besides the progress lines, one line of error.
    const errors = run.stderr.split('\n').filter((l) => /denied|error/i.test(l));
    expect(errors, run.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: db → local: source db: mariadb exited with 1: .*Access denied for user 'bkdr'/);
    expect(run.stderr).not.toContain('not-the-password');
    expect(JSON.parse((await bad.run(['--json', 'backup', 'list'])).stdout)).toEqual([]);
  });

  it('refuses to restore a dump of every database into one, touching nothing', async () => {
    const dir = join(tmp.path, 'all');
    await mkdir(dir);
    // The password in the URL this time.
    const url = `mysql://${server.user}:${server.password}@localhost/?socket=${encodeURIComponent(server.socket)}`;
    const all = await makeWorkspace(dir, [], { sources: { everything: { type: 'mysql', url } } });
    const backup = await all.run(['backup', 'run']);
    expect(backup.code, backup.stderr).toBe(0);
    const list = await all.run(['--json', 'backup', 'list']);
    expect((JSON.parse(list.stdout) as { paths: string[] }[])[0]?.paths).toEqual([`mysql:${server.socket}`]);

    const restore = await all.run(['restore', '--source', 'everything', '--target-db', 'elsewhere']);
    expect(restore.code).toBe(2);
    expect(restore.stderr).toMatch(/source everything: this backup is a dump of every database/);
    expect((await server.query("SHOW DATABASES LIKE 'elsewhere'")).trim()).toBe('');
  });
});

describe.skipIf(!mariadbAvailable)('mysql source against a server without a binary log', () => {
  it('backs up and restores it, recording no coordinates', async () => {
    const server = await startMariadbServer();
    const tmp = await makeTempDir('bkdr-mysql-');
    try {
      await server.query("CREATE DATABASE app; CREATE TABLE app.kv (k VARCHAR(20) PRIMARY KEY, v BLOB); INSERT INTO app.kv VALUES ('a', 0x00ff), ('b', NULL)");
      const ws = await makeWorkspace(tmp.path, [], { sources: { app: { type: 'mysql', socket: server.socket, database: 'app', user: server.user, password: server.password } } });
      const backup = await ws.run(['backup', 'run']);
      expect(backup.code, backup.stderr).toBe(0);
      const restore = await ws.run(['restore', '--source', 'app', '--target-db', 'app_copy']);
      expect(restore.code, restore.stderr).toBe(0);
      expect(await server.query('SELECT k, HEX(v) FROM kv ORDER BY k', 'app_copy')).toBe(await server.query('SELECT k, HEX(v) FROM kv ORDER BY k', 'app'));

      const repo = await Repository.open(createLocalAdapter({ name: 'local', path: ws.repo }), { password: 'test-password' });
      const [snapshot] = await repo.listSnapshots();
      await repo.close();
      expect(snapshot?.meta).toBeUndefined();
    } finally {
      await server.stop();
      await tmp.cleanup();
    }
  });
});
