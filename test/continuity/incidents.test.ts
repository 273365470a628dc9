import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { validateConfig } from '../../src/config/validate.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import { closeIncident, documentIncident, listIncidents, openIncident, recordNotification } from '../../src/continuity/incidents.js';
import { silentLogger } from '../../src/core/logger.js';
import { makeTempDir } from '../helpers/cli.js';

// The clock is faked through the context's `now`: the test moves it to age an incident.
describe('incident use cases', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;
  let now: Date;
  let ctx: ContinuityContext;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-incidents-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
    now = new Date('2026-12-01T10:00:00Z');
    const config = validateConfig(
      {
        sources: { files: { type: 'files', paths: [tmp.path] } },
        destinations: [{ name: 'local', type: 'local', config: { path: join(tmp.path, 'repo') } }],
        systems: [{ name: 'crm', criticality: 'high', personalData: true }, { name: 'wiki' }],
      },
      join(tmp.path, 'backup.config.json'),
    );
    ctx = { config, configDir: tmp.path, catalog, logger: silentLogger, now: () => now };
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  const actions = () =>
    catalog.audit
      .list({ limit: 100 })
      .map((e) => e.action)
      .filter((a) => a.startsWith('incident.'));

  it('opens, notifies, documents and closes an incident, auditing each change without its free text', () => {
    const opened = openIncident(ctx, { title: 'CRM export leaked', severity: 'high', systems: ['crm'], facts: 'export link was public' });
    expect(opened).toMatchObject({ personalData: true, openedBy: 'manual', notes: 'systems: crm', facts: 'export link was public', gdpr: { status: 'open', hoursLeft: 72 } });

    now = new Date('2026-12-03T10:00:00Z');
    expect(recordNotification(ctx, opened.id).gdpr).toMatchObject({ status: 'notified', notifiedAt: '2026-12-03T10:00:00.000Z' });
    expect(() => recordNotification(ctx, opened.id)).toThrow(/already notified/);

    expect(documentIncident(ctx, opened.id, { effects: '300 contacts', remedialAction: 'link revoked' })).toMatchObject({ effects: '300 contacts', remedialAction: 'link revoked' });
    expect(() => documentIncident(ctx, opened.id, {})).toThrow(/nothing to record/);
    expect(() => closeIncident(ctx, opened.id, {})).toThrow(/needs a summary/);
    expect(closeIncident(ctx, opened.id, { summary: 'contained' })).toMatchObject({ closedAt: '2026-12-03T10:00:00.000Z', summary: 'contained' });

    expect(actions().sort()).toEqual(['incident.close', 'incident.notify', 'incident.open', 'incident.update']);
    expect(JSON.stringify(catalog.audit.list({ limit: 100 }))).not.toMatch(/leaked|300 contacts|contained/);
  });

  it('records a reason for a delay before the notification, then a late notification', () => {
    const { id } = openIncident(ctx, { title: 'backup tape lost', severity: 'medium', personalData: true });
    now = new Date('2026-12-04T09:00:00Z');
    expect(recordNotification(ctx, id, { delayReason: 'tape contents being inventoried' }).gdpr).toMatchObject({ status: 'delayed-with-reason', notifiedAt: null });
    now = new Date('2026-12-05T10:00:00Z');
    expect(recordNotification(ctx, id, { at: '2h ago' }).gdpr).toMatchObject({ status: 'notified-late', notifiedAt: '2026-12-05T08:00:00.000Z', delayReason: 'tape contents being inventoried' });
  });

  it('refuses what cannot be true', () => {
    const plain = openIncident(ctx, { title: 'wiki slow', severity: 'low', systems: ['wiki'] });
    expect(plain.gdpr).toBeNull();
    expect(() => recordNotification(ctx, plain.id)).toThrow(/does not affect personal data/);
    expect(() => openIncident(ctx, { title: 'x', severity: 'huge' })).toThrow(/severity must be/);
    expect(() => openIncident(ctx, { title: 'x', severity: 'low', systems: ['erp'] })).toThrow(/no system erp/);
    const breach = openIncident(ctx, { title: 'breach', severity: 'high', personalData: true });
    expect(() => recordNotification(ctx, breach.id, { at: '2026-12-02T00:00:00Z' })).toThrow(/in the future/);
    expect(() => recordNotification(ctx, breach.id, { at: '2026-11-30T00:00:00Z' })).toThrow(/before the incident was opened/);
  });

  it('lists open ones and those since a time, with clocks as at now', () => {
    const early = openIncident(ctx, { title: 'early', severity: 'high', personalData: true });
    now = new Date('2026-12-02T10:00:00Z');
    const late = openIncident(ctx, { title: 'late', severity: 'low' });
    closeIncident(ctx, late.id, { summary: 'fine' });
    now = new Date('2026-12-05T10:00:00Z');
    expect(listIncidents(ctx, { open: true }).map((i) => [i.id, i.gdpr?.status])).toEqual([[early.id, 'overdue']]);
    expect(listIncidents(ctx, { since: '3 days ago' }).map((i) => i.id)).toEqual([late.id]);
  });
});
