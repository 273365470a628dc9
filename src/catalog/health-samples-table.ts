import type Database from 'better-sqlite3';

export interface HealthSample {
  check: string;
  at: string;
  ok: boolean;
  latencyMs: number | null;
  detail: string | null;
}

export interface Availability {
  samples: number;
  ok: number;
  /** Share of successful samples, 0–100; null without samples. */
  percent: number | null;
}

/** Health-check results from `dr watch`, kept as availability evidence (DESIGN.md "Detectors"). */
export class HealthSamplesTable {
  constructor(private readonly db: Database.Database) {}

  append(s: { check: string; ok: boolean; at?: Date; latencyMs?: number; detail?: string }): void {
    this.db
      .prepare('INSERT INTO health_samples (check_name, at, ok, latency_ms, detail) VALUES (?, ?, ?, ?, ?)')
      .run(s.check, (s.at ?? new Date()).toISOString(), s.ok ? 1 : 0, s.latencyMs ?? null, s.detail ?? null);
  }

  /**
   * Availability over [from, to) as the share of samples that passed, for one check or
   * (without `check`) all of them. Detectors sample at a fixed interval, so the share
   * of samples is the share of time.
   */
  availability(window: { from: Date; to?: Date; check?: string }): Availability {
    const args: unknown[] = [window.from.toISOString(), (window.to ?? new Date()).toISOString()];
    if (window.check !== undefined) args.push(window.check);
    const row = this.db
      .prepare(`SELECT COUNT(*) AS samples, COALESCE(SUM(ok), 0) AS ok FROM health_samples WHERE at >= ? AND at < ? ${window.check === undefined ? '' : 'AND check_name = ?'}`)
      .get(...args) as { samples: number; ok: number };
    return { samples: row.samples, ok: row.ok, percent: row.samples === 0 ? null : (row.ok / row.samples) * 100 };
  }

  /** Samples of one check, newest first. */
  recent(check: string, limit = 100): HealthSample[] {
    const rows = this.db.prepare('SELECT * FROM health_samples WHERE check_name = ? ORDER BY at DESC, rowid DESC LIMIT ?').all(check, limit) as {
      check_name: string;
      at: string;
      ok: number;
      latency_ms: number | null;
      detail: string | null;
    }[];
    return rows.map((r) => ({ check: r.check_name, at: r.at, ok: r.ok === 1, latencyMs: r.latency_ms, detail: r.detail }));
  }

  /** Drops samples older than `before` (they are evidence for a retention window, not forever). Returns how many. */
  prune(before: Date): number {
    return this.db.prepare('DELETE FROM health_samples WHERE at < ?').run(before.toISOString()).changes;
  }
}
