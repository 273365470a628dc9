import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { migrations } from '../../src/catalog/migrations/index.js';
import { makeTempDir } from '../helpers/cli.js';

// The clock is faked: every read passes its own `now`, so a record ages without waiting 72 hours.
const opened = new Date('2026-12-01T10:00:00Z');
const hoursAfter = (h: number) => new Date(opened.getTime() + h * 3600_000);

describe('the GDPR art. 33 record of an incident', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-incidents-gdpr-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  const breach = () => catalog.incidents.open({ title: 'customer table exposed', severity: 'high', personalData: true, openedAt: opened });

  it('is due 72 hours after the incident was opened, and counts down', () => {
    const id = breach();
    expect(catalog.incidents.get(id, hoursAfter(31))!.gdpr).toEqual({ dueAt: '2026-12-04T10:00:00.000Z', notifiedAt: null, delayReason: null, status: 'open', hoursLeft: 41 });
  });

  it('has no clock when no personal data is affected', () => {
    const id = catalog.incidents.open({ title: 'slow api', severity: 'low', openedAt: opened });
    expect(catalog.incidents.get(id, hoursAfter(100))!.gdpr).toBeNull();
  });

  it('is notified when the authority was told within 72 hours', () => {
    const id = breach();
    catalog.incidents.update(id, { notifiedAt: hoursAfter(71) });
    expect(catalog.incidents.get(id, hoursAfter(200))!.gdpr).toMatchObject({ status: 'notified', notifiedAt: hoursAfter(71).toISOString(), hoursLeft: null });
  });

  it('is notified late when the authority was told after 72 hours', () => {
    const id = breach();
    catalog.incidents.update(id, { notifiedAt: hoursAfter(80) });
    expect(catalog.incidents.get(id, hoursAfter(81))!.gdpr!.status).toBe('notified-late');
  });

  it('is overdue past 72 hours without a notification, by how many hours', () => {
    const id = breach();
    expect(catalog.incidents.get(id, hoursAfter(75))!.gdpr).toMatchObject({ status: 'overdue', hoursLeft: -3 });
    expect(catalog.incidents.list({ now: hoursAfter(75) })[0]!.gdpr!.status).toBe('overdue');
  });

  it('is delayed with a reason when one is recorded instead of a notification', () => {
    const id = breach();
    catalog.incidents.update(id, { notificationDelayReason: 'forensics still scoping which records left' });
    expect(catalog.incidents.get(id, hoursAfter(90))!.gdpr).toMatchObject({ status: 'delayed-with-reason', delayReason: 'forensics still scoping which records left' });
  });

  it('keeps facts, effects and remedial action, also after it is closed, and needs a summary to close', () => {
    const id = catalog.incidents.open({ title: 'laptop stolen', severity: 'medium', personalData: true, openedAt: opened, facts: 'unencrypted laptop' });
    expect(catalog.incidents.get(id)).toMatchObject({ openedBy: 'manual', facts: 'unencrypted laptop', effects: null });
    expect(() => catalog.incidents.close(id, {})).toThrow(/needs a summary/);
    catalog.incidents.close(id, { summary: 'device wiped remotely', at: hoursAfter(5) });
    const after = catalog.incidents.update(id, { effects: '120 customer addresses', remedialAction: 'disk encryption enforced' });
    expect(after).toMatchObject({ facts: 'unencrypted laptop', effects: '120 customer addresses', remedialAction: 'disk encryption enforced', summary: 'device wiped remotely' });
    expect(() => catalog.incidents.update(id, {})).toThrow(/nothing to update/);
  });
});

describe('migration 6 on a catalog created before it', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-incidents-upgrade-');
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('keeps the incidents already there and adds the record fields empty', () => {
    const path = join(tmp.path, 'v4.db');
    const db = new Database(path);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of migrations.filter((m) => m.version <= 4)) {
      db.exec(m.up);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }
    // As the store wrote incidents before migration 6 (its INSERT of that time).
    db.prepare("INSERT INTO incidents (id, opened_at, title, severity, personal_data, notes) VALUES ('0123456789abcdef', ?, 'db down', 'critical', 1, 'paged')").run(opened.toISOString());
    db.close();

    const c = openCatalog(path);
    try {
      expect(c.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toContain(6);
      expect(c.incidents.get('0123', hoursAfter(10))).toMatchObject({ title: 'db down', notes: 'paged', openedBy: null, facts: null, summary: null, gdpr: { status: 'open', hoursLeft: 62 } });
      c.incidents.update('0123', { notifiedAt: hoursAfter(20) });
    } finally {
      c.close();
    }
    const again = openCatalog(path);
    try {
      expect(again.incidents.get('0123')!.gdpr!.status).toBe('notified');
    } finally {
      again.close();
    }
  });
});
