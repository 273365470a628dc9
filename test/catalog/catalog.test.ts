import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrations } from '../../src/catalog/migrations/index.js';
import { openCatalog } from '../../src/catalog/catalog.js';
import { resolveCatalogPath } from '../../src/catalog/catalog-path.js';
import { type CliResult, makeTempDir, repoRoot, runBkdr, runNode } from '../helpers/cli.js';

/** Opens the catalog at `path` from a separate process (the built one), as soon as the clock reaches `at`. */
function openInAnotherProcess(path: string, at: number): Promise<CliResult> {
  const script = `
    import { openCatalog } from ${JSON.stringify(join(repoRoot, 'dist/catalog/catalog.js'))};
    while (Date.now() < ${at});
    openCatalog(${JSON.stringify(path)}).close();`;
  return runNode(['--input-type=module', '-e', script]);
}

const hasSqlite3 = (() => {
  try {
    execFileSync('sqlite3', ['-version']);
    return true;
  } catch {
    return false;
  }
})();

/** Tampers like an attacker with file access would: the sqlite3 CLI, triggers dropped first. */
function tamper(db: string, sql: string): void {
  execFileSync('sqlite3', [db, `DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; ${sql}`]);
}

describe('catalog', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let path: string;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-catalog-');
    path = join(tmp.path, 'sub', 'catalog.db');
  });
  afterEach(() => tmp.cleanup());

  it('is created owner-only, in WAL mode, and migrations are idempotent', () => {
    const c = openCatalog(path);
    expect(c.db.pragma('journal_mode', { simple: true })).toBe('wal');
    c.close();
    const again = openCatalog(path);
    // Each migration applied once, however often the catalog is opened.
    expect(again.db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()).toEqual({ n: migrations.length });
    again.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('is created once when several processes open a new catalog at the same moment', async () => {
    // Started together (two cron jobs on a fresh machine): each must wait for the one creating the schema.
    const at = Date.now() + 1500;
    const opened = await Promise.all(Array.from({ length: 6 }, () => openInAnotherProcess(path, at)));
    for (const o of opened) expect(o.code, o.stderr).toBe(0);
    const c = openCatalog(path);
    expect(c.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual(migrations.map((m) => m.version));
    c.close();
  });

  it('resolves its path from the config, then BKDR_CATALOG, then XDG_DATA_HOME', () => {
    expect(resolveCatalogPath('/a/b.db', { BKDR_CATALOG: '/c.db' })).toBe('/a/b.db');
    expect(resolveCatalogPath(undefined, { BKDR_CATALOG: '/c.db' })).toBe('/c.db');
    expect(resolveCatalogPath(undefined, { XDG_DATA_HOME: '/xdg' })).toBe('/xdg/bkdr/catalog.db');
  });

  it('records runs with their logs and caches backups', () => {
    const c = openCatalog(path);
    const run = c.runs.start({ kind: 'backup', source: 'files', destinations: ['local'] });
    c.runLogs.append(run, 'info', 'started', { n: 1 });
    c.runLogs.append(run, 'warn', 'a file vanished');
    c.runs.finish(run, { status: 'partial', summary: { x: 1 } });
    expect(c.runs.get(run.slice(0, 6))).toMatchObject({ id: run, status: 'partial', destinations: ['local'], summary: { x: 1 } });
    expect(c.runLogs.forRun(run).map((l) => [l.seq, l.level, l.message])).toEqual([
      [1, 'info', 'started'],
      [2, 'warn', 'a file vanished'],
    ]);
    // A dry run says so on its first log line, and only there.
    const dry = c.runs.start({ kind: 'backup', source: 'files', destinations: ['local'] });
    c.runLogs.append(dry, 'info', 'backup of files', { dryRun: true });
    c.runLogs.append(dry, 'info', 'later', { dryRun: false });
    expect([c.runLogs.wasDryRun(dry), c.runLogs.wasDryRun(run), c.runLogs.wasDryRun('no-such-run')]).toEqual([true, false, false]);
    const base = {
      destination: 'local',
      repositoryId: 'r',
      source: 'files',
      strategy: 'full' as const,
      parentId: null,
      hostname: 'h',
      paths: ['/x'],
      tags: [],
      files: 1,
      dirs: 1,
      bytes: 1,
      addedBytes: 1,
      storedBytes: 1,
      summary: {},
      runId: run,
    };
    c.backups.upsert({ ...base, id: 'aaaa1111', time: '2026-01-01T00:00:00.000Z' });
    c.backups.upsert({ ...base, id: 'aaaa2222', time: '2026-02-01T00:00:00.000Z', strategy: 'incremental', parentId: 'aaaa1111' });
    expect(c.backups.list({}).map((b) => b.id)).toEqual(['aaaa2222', 'aaaa1111']);
    expect(c.backups.list({ since: new Date('2026-01-15') }).map((b) => b.id)).toEqual(['aaaa2222']);
    expect(() => c.backups.get('aaaa')).toThrow(/ambiguous/);
    expect(c.backups.get('aaaa2')?.parentId).toBe('aaaa1111');
    c.close();
  });

  it('refuses UPDATE and DELETE on the audit log', () => {
    const c = openCatalog(path);
    c.audit.append({ action: 'test', target: 't', payload: { password: 'hunter2', n: 1 } });
    expect(c.audit.list()[0]!.payload).toEqual({ password: '***', n: 1 });
    expect(() => c.db.prepare("UPDATE audit_log SET target = 'x'").run()).toThrow(/append-only/);
    expect(() => c.db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
    expect(c.audit.verify()).toEqual({ ok: true, rows: 1 });
    c.close();
  });

  describe.skipIf(!hasSqlite3)('audit chain against tampering with the sqlite3 CLI', () => {
    const seed = () => {
      const c = openCatalog(path);
      for (let i = 1; i <= 5; i++) c.audit.append({ action: `action-${i}`, target: `target-${i}`, payload: { i } });
      c.close();
    };
    const verify = () => {
      const c = openCatalog(path);
      try {
        return c.audit.verify();
      } finally {
        c.close();
      }
    };

    it('names an edited row', () => {
      seed();
      tamper(path, `UPDATE audit_log SET payload = '{"i":99}' WHERE seq = 3;`);
      expect(verify()).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: 'edited' });
    });

    it('names a deleted row', () => {
      seed();
      tamper(path, 'DELETE FROM audit_log WHERE seq = 2;');
      expect(verify()).toMatchObject({ ok: false, firstBrokenSeq: 2, reason: 'deleted' });
    });

    it('names an inserted row', () => {
      seed();
      tamper(
        path,
        `INSERT INTO audit_log (seq, time, actor, action, target, payload, prev_hash, hash) VALUES (6, '2026-01-01T00:00:00.000Z', 'mallory@x', 'forged', 't', '{}', '${'0'.repeat(64)}', '${'f'.repeat(64)}');`,
      );
      expect(verify()).toMatchObject({ ok: false, firstBrokenSeq: 6, reason: 'inserted' });
    });

    it('notices the newest rows cut off', () => {
      seed();
      tamper(path, 'DELETE FROM audit_log WHERE seq >= 4;');
      expect(verify()).toMatchObject({ ok: false, firstBrokenSeq: 4, reason: 'truncated' });
    });

    it('bkdr audit verify exits 0 when intact and 5 naming the row after an edit', async () => {
      seed();
      const env = { BKDR_CATALOG: path, BKDR_CONFIG: '' };
      const ok = await runBkdr(['audit', 'verify'], { cwd: tmp.path, env });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/intact: 5 rows/);
      tamper(path, `UPDATE audit_log SET target = 'elsewhere' WHERE seq = 4;`);
      const broken = await runBkdr(['audit', 'verify'], { cwd: tmp.path, env });
      expect(broken.code).toBe(5);
      expect(broken.stderr).toMatch(/broken at row 4/);
      const listed = await runBkdr(['--json', 'audit', 'list'], { cwd: tmp.path, env });
      expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(5);
    });
  });
});
