import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { makeTempDir } from '../helpers/cli.js';

describe('health samples and incidents in the catalog', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-health-catalog-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  it('computes availability over a window, per check and overall', () => {
    const t = (m: number) => new Date(Date.UTC(2026, 11, 1, 10, m));
    const h = catalog.healthSamples;
    for (let m = 0; m < 10; m++) h.append({ check: 'api', at: t(m), ok: m !== 3, latencyMs: 12 });
    for (let m = 0; m < 10; m++) h.append({ check: 'db', at: t(m), ok: m < 5, ...(m < 5 ? {} : { detail: 'refused' }) });
    expect(h.availability({ from: t(0), to: t(10), check: 'api' })).toEqual({ samples: 10, ok: 9, percent: 90 });
    expect(h.availability({ from: t(5), to: t(10), check: 'db' })).toEqual({ samples: 5, ok: 0, percent: 0 });
    expect(h.availability({ from: t(0), to: t(10) })).toEqual({ samples: 20, ok: 14, percent: 70 });
    expect(h.availability({ from: t(20), to: t(30) })).toEqual({ samples: 0, ok: 0, percent: null });
    expect(h.recent('db', 1)).toEqual([{ check: 'db', at: t(9).toISOString(), ok: false, latencyMs: null, detail: 'refused' }]);
    expect(h.prune(t(5))).toBe(10);
    expect(h.availability({ from: t(0), to: t(10) }).samples).toBe(10);
  });

  it('opens, lists and closes incidents, with the GDPR clock when personal data is affected', () => {
    const i = catalog.incidents;
    const first = i.open({ title: 'db down', severity: 'critical', scenarioId: 'db-failure', personalData: true, openedAt: new Date('2026-12-01T10:00:00Z'), notes: 'paged' });
    const second = i.open({ title: 'slow api', severity: 'low', openedAt: new Date('2026-12-02T10:00:00Z') });
    expect(i.get(first)).toMatchObject({ title: 'db down', severity: 'critical', personalData: true, notificationDueAt: '2026-12-04T10:00:00.000Z', closedAt: null });
    expect(i.get(second)!.notificationDueAt).toBeNull();
    expect(i.list().map((x) => x.id)).toEqual([second, first]);

    expect(() => i.close(first, { summary: ' ' })).toThrow(/needs a summary/);
    const closed = i.close(first.slice(0, 6), { at: new Date('2026-12-01T12:00:00Z'), summary: 'restored' });
    expect(closed).toMatchObject({ closedAt: '2026-12-01T12:00:00.000Z', notes: 'paged', summary: 'restored' });
    expect(() => i.close(first, { summary: 'again' })).toThrow(/already closed/);
    expect(() => i.close('zzzz', { summary: 'x' })).toThrow(/no incident zzzz/);
    expect(i.list({ open: true }).map((x) => x.id)).toEqual([second]);
    expect(i.list({ open: false }).map((x) => x.id)).toEqual([first]);
    expect(() => catalog.db.prepare("UPDATE incidents SET severity = 'huge'").run()).toThrow(/CHECK/);
  });
});
