import type Database from 'better-sqlite3';

/** Read-data coverage per repository: which packs were checked when, so a sampled verify moves on. */
export class PackChecksTable {
  constructor(private readonly db: Database.Database) {}

  /** pack id → last check time (ISO), for one repository. */
  lastChecked(repositoryId: string): Map<string, string> {
    const rows = this.db.prepare('SELECT pack_id, checked_at FROM pack_checks WHERE repository_id = ?').all(repositoryId) as { pack_id: string; checked_at: string }[];
    return new Map(rows.map((r) => [r.pack_id, r.checked_at]));
  }

  record(repositoryId: string, results: { packId: string; ok: boolean }[]): void {
    const now = new Date().toISOString();
    const upsert = this.db.prepare(
      'INSERT INTO pack_checks (repository_id, pack_id, checked_at, ok) VALUES (?, ?, ?, ?) ON CONFLICT (repository_id, pack_id) DO UPDATE SET checked_at = excluded.checked_at, ok = excluded.ok',
    );
    this.db.transaction(() => {
      for (const r of results) upsert.run(repositoryId, r.packId, now, r.ok ? 1 : 0);
    })();
  }
}
