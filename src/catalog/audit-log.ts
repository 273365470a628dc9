import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type Database from 'better-sqlite3';

export interface AuditEntry {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  payload: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** The chain began again in a new catalog: what is known of the history it lost. */
export interface LostHistory {
  /** When the new chain began. */
  since: string;
  /** The old chain's newest row, from the anchor file, when it was there. */
  lastSeq?: number;
  lastTime?: string;
  /** Where the damaged catalog that still holds it was kept. */
  keptAt?: string;
  reason: string;
}

export type AuditVerification =
  { ok: true; rows: number; historyLost?: LostHistory } | { ok: false; rows: number; firstBrokenSeq: number; reason: 'edited' | 'deleted' | 'inserted' | 'truncated'; historyLost?: LostHistory };

/** The action of the first row of a chain that replaced one whose history is gone. */
export const HISTORY_LOST_ACTION = 'audit.history-lost';

/**
 * The audit chain's head, also kept in a small file beside the catalog: a catalog
 * deleted or replaced takes its own head with it, and only a copy outside it can tell
 * that a new, intact chain is not the whole history.
 */
export function auditAnchorPath(catalogPath: string): string {
  return `${catalogPath}.audit-head`;
}

interface Anchor {
  seq: number;
  hash: string;
  time: string;
}

const GENESIS = '0'.repeat(64);
const SECRET_KEY = /password|secret|token|passphrase|privatekey|accountkey|connectionstring/i;

interface AuditRow {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  payload: string;
  prev_hash: string;
  hash: string;
}

/** JSON with object keys sorted, so a row hashes the same however it was built. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function rowHash(r: { seq: number; time: string; actor: string; action: string; target: string; payload: string; prevHash: string }): string {
  return createHash('sha256')
    .update(canonicalJson({ seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, payload: JSON.parse(r.payload) as unknown, prevHash: r.prevHash }))
    .digest('hex');
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '***' : redact(v)]));
  }
  return value;
}

/**
 * The tamper-evident audit trail (DESIGN.md): append-only (triggers refuse UPDATE and
 * DELETE), each row carrying the SHA-256 of the previous one, and a head row naming
 * the newest, so an edit, a deletion, an insertion or a cut-off tail is detected.
 */
export class AuditLog {
  constructor(
    private readonly db: Database.Database,
    /** Where the head's copy is kept; none for a catalog in memory. */
    private readonly anchorPath?: string,
  ) {}

  /**
   * Starts the chain of a new catalog with a row saying that history was lost, when
   * an anchor file shows that one existed before or a damaged catalog was kept aside.
   * A first catalog on a machine has neither, and starts clean.
   */
  recordLostHistory(replacing?: { keptAt: string; reason: string }): void {
    const anchor = this.#readAnchor();
    if (!anchor && !replacing) return;
    this.append({
      action: HISTORY_LOST_ACTION,
      target: replacing?.keptAt ?? '',
      payload: {
        reason: replacing?.reason ?? 'the catalog file was missing',
        ...(anchor ? { lastSeq: anchor.seq, lastHash: anchor.hash, lastTime: anchor.time } : {}),
        ...(replacing ? { keptAt: replacing.keptAt } : {}),
      },
    });
  }

  #readAnchor(): Anchor | undefined {
    if (!this.anchorPath) return undefined;
    try {
      const a = JSON.parse(readFileSync(this.anchorPath, 'utf8')) as Partial<Anchor>;
      return typeof a.seq === 'number' && a.seq > 0 && typeof a.hash === 'string' && typeof a.time === 'string' ? { seq: a.seq, hash: a.hash, time: a.time } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Best effort: the chain in the catalog is the record; the anchor only tells when it went missing. */
  #writeAnchor(anchor: Anchor, startsOver = false): void {
    if (!this.anchorPath) return;
    try {
      // Two processes append in turn but may write the anchor out of order: never move it back, unless a new chain began.
      const current = this.#readAnchor();
      if (!startsOver && current && current.seq >= anchor.seq) return;
      const temp = `${this.anchorPath}.${process.pid}`;
      writeFileSync(temp, `${JSON.stringify(anchor)}\n`, { mode: 0o600 });
      renameSync(temp, this.anchorPath);
    } catch {
      // An unwritable folder: the catalog itself could not have been written either, or it is read-only on purpose.
    }
  }

  append(entry: { action: string; target: string; payload?: Record<string, unknown> }): AuditEntry {
    const actor = `${safeUser()}@${hostname()}`;
    const payload = JSON.stringify(redact(entry.payload ?? {}));
    // IMMEDIATE: two processes appending at once must chain one after the other.
    const appended: AuditEntry = this.db
      .transaction(() => {
        const last = this.db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
        const seq = (last?.seq ?? 0) + 1;
        const prevHash = last?.hash ?? GENESIS;
        const time = new Date().toISOString();
        const hash = rowHash({ seq, time, actor, action: entry.action, target: entry.target, payload, prevHash });
        this.db
          .prepare('INSERT INTO audit_log (seq, time, actor, action, target, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(seq, time, actor, entry.action, entry.target, payload, prevHash, hash);
        return { seq, time, actor, action: entry.action, target: entry.target, payload: JSON.parse(payload) as Record<string, unknown>, prevHash, hash };
      })
      .immediate();
    this.#writeAnchor({ seq: appended.seq, hash: appended.hash, time: appended.time }, appended.action === HISTORY_LOST_ACTION && appended.seq === 1);
    return appended;
  }

  list(filter: { limit?: number; since?: Date } = {}): AuditEntry[] {
    const rows = this.db
      .prepare(`SELECT * FROM audit_log ${filter.since ? 'WHERE time >= ?' : ''} ORDER BY seq DESC LIMIT ?`)
      .all(...(filter.since ? [filter.since.toISOString()] : []), filter.limit ?? 1000) as AuditRow[];
    return rows
      .reverse()
      .map((r) => ({ seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, payload: JSON.parse(r.payload) as Record<string, unknown>, prevHash: r.prev_hash, hash: r.hash }));
  }

  verify(): AuditVerification {
    const result = this.#verifyChain();
    const first = this.db.prepare('SELECT * FROM audit_log WHERE seq = 1').get() as AuditRow | undefined;
    if (first?.action !== HISTORY_LOST_ACTION) return result;
    const p = JSON.parse(first.payload) as { reason?: string; lastSeq?: number; lastTime?: string; keptAt?: string };
    const historyLost: LostHistory = {
      since: first.time,
      reason: p.reason ?? 'the catalog was recreated',
      ...(typeof p.lastSeq === 'number' ? { lastSeq: p.lastSeq } : {}),
      ...(p.lastTime ? { lastTime: p.lastTime } : {}),
      ...(p.keptAt ? { keptAt: p.keptAt } : {}),
    };
    return { ...result, historyLost };
  }

  #verifyChain(): AuditVerification {
    const rows = this.db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as AuditRow[];
    const hashes = new Set(rows.map((r) => r.hash));
    let prevHash = GENESIS;
    let expectedSeq = 1;
    for (const r of rows) {
      let recomputed: string;
      try {
        recomputed = rowHash({ seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, payload: r.payload, prevHash: r.prev_hash });
      } catch {
        return { ok: false, rows: rows.length, firstBrokenSeq: r.seq, reason: 'edited' };
      }
      if (recomputed !== r.hash) {
        // A row whose content and hash agree with nothing before it was made up, not edited.
        return { ok: false, rows: rows.length, firstBrokenSeq: r.seq, reason: r.prev_hash !== prevHash && !hashes.has(r.prev_hash) ? 'inserted' : 'edited' };
      }
      if (r.prev_hash !== prevHash || r.seq !== expectedSeq) {
        const reason = r.seq > expectedSeq && !hashes.has(r.prev_hash) ? 'deleted' : 'inserted';
        return { ok: false, rows: rows.length, firstBrokenSeq: reason === 'deleted' ? expectedSeq : r.seq, reason };
      }
      prevHash = r.hash;
      expectedSeq = r.seq + 1;
    }
    const head = this.db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as { seq: number; hash: string } | undefined;
    const lastSeq = expectedSeq - 1;
    if (head && head.seq > lastSeq) return { ok: false, rows: rows.length, firstBrokenSeq: lastSeq + 1, reason: 'truncated' };
    // Rows past the head were added without the insert trigger, that is, around the chain's own code.
    if (head && head.seq < lastSeq) return { ok: false, rows: rows.length, firstBrokenSeq: head.seq + 1, reason: 'inserted' };
    if (head && head.hash !== prevHash) return { ok: false, rows: rows.length, firstBrokenSeq: lastSeq, reason: 'edited' };
    if (!head && rows.length > 0) return { ok: false, rows: rows.length, firstBrokenSeq: 1, reason: 'inserted' };
    return { ok: true, rows: rows.length };
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid${process.getuid?.() ?? '?'}`;
  }
}
