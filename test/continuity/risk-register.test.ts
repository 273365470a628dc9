import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { validateConfig } from '../../src/config/validate.js';
import { silentLogger } from '../../src/core/logger.js';
import { UsageError } from '../../src/core/errors.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import { addRisk, closeRisk, getRisk, listRisks, riskRegister, updateRisk } from '../../src/continuity/risk-register.js';
import { makeTempDir } from '../helpers/cli.js';

describe('the risk register', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;
  let ctx: ContinuityContext;
  // Moved by the tests that age the register, and they say so.
  let now: Date;

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-risk-register-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
    now = new Date('2026-12-05T12:00:00Z');
    const config = validateConfig({
      sources: { files: { type: 'files', paths: [tmp.path] } },
      destinations: [{ name: 'local', type: 'local', config: { path: join(tmp.path, 'repo') } }],
      risks: [
        { id: 'R-1', title: 'Ransomware', likelihood: 3, impact: 5, owner: 'security', treatment: 'mitigate', mitigations: ['offsite encrypted copies'], reviewBy: '2027-06-30' },
        { id: 'R-7', title: 'Unscored supplier risk', reviewBy: '2026-12-01' },
      ],
    });
    ctx = { config, configDir: tmp.path, catalog, logger: silentLogger, now: () => now };
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  it('lists config risks, read-only and rated, before the ones added', () => {
    const added = addRisk(ctx, { title: 'Region outage', likelihood: 2, impact: 4, treatment: 'transfer', systems: ['database'], residualLikelihood: 1 });
    expect(added).toMatchObject({ id: 'R-8', source: 'catalog', status: 'open', level: 2, levelName: 'medium', residualLevel: 1, residualLevelName: 'low', systems: ['database'] });
    const risks = listRisks(ctx);
    expect(risks.map((r) => [r.id, r.source, r.levelName])).toEqual([
      ['R-1', 'config', 'high'],
      ['R-7', 'config', null],
      ['R-8', 'catalog', 'medium'],
    ]);
    expect(riskRegister(ctx).exposure).toEqual({ score: 15 + 8, byLevel: { 'very low': 0, low: 0, medium: 1, high: 1, 'very high': 0 }, unscored: 1 });
  });

  it('keeps a given id and refuses one that either source already has', () => {
    expect(addRisk(ctx, { id: 'OPS-1', title: 'Single operator' }).id).toBe('OPS-1');
    expect(() => addRisk(ctx, { id: 'R-1', title: 'Again' })).toThrow(new UsageError('risk R-1 already exists'));
    expect(() => addRisk(ctx, { id: 'OPS-1', title: 'Again' })).toThrow(/risk OPS-1 already exists/);
  });

  it('refuses scores outside 1–5 and an unknown treatment, adding nothing', () => {
    expect(() => addRisk(ctx, { title: 'x', likelihood: 6 })).toThrow(/^likelihood must be an integer from 1 to 5, not 6$/);
    expect(() => addRisk(ctx, { title: 'x', impact: 0 })).toThrow(/impact must be an integer from 1 to 5/);
    expect(() => addRisk(ctx, { title: 'x', treatment: 'ignore' as never })).toThrow(/treatment must be one of mitigate, transfer, avoid, accept/);
    expect(() => addRisk(ctx, { title: 'x', reviewBy: 'soon' })).toThrow(/review date must be a date/);
    expect(catalog.risks.list()).toEqual([]);
  });

  it('refuses to change or close a config risk, saying to edit the config', () => {
    expect(() => updateRisk(ctx, 'R-1', { likelihood: 2 })).toThrow(new UsageError('risk R-1 is defined in the config; edit the config to change it'));
    expect(() => closeRisk(ctx, 'R-1', 'done')).toThrow(/edit the config to close it/);
    expect(() => updateRisk(ctx, 'R-99', { likelihood: 2 })).toThrow(/no risk R-99/);
  });

  it('updates and closes an added risk, which then leaves the exposure', () => {
    const { id } = addRisk(ctx, { title: 'Region outage', likelihood: 2, impact: 4 });
    now = new Date('2026-12-06T12:00:00Z');
    const updated = updateRisk(ctx, id, { likelihood: 5, mitigations: ['second region'], owner: 'ops' });
    expect(updated).toMatchObject({ likelihood: 5, levelName: 'very high', mitigations: ['second region'], owner: 'ops', updatedAt: '2026-12-06T12:00:00.000Z' });
    const closed = closeRisk(ctx, id, 'moved to a multi-region service');
    expect(closed).toMatchObject({ status: 'closed', closedAt: '2026-12-06T12:00:00.000Z', closeReason: 'moved to a multi-region service' });
    expect(() => closeRisk(ctx, id)).toThrow(/already closed/);
    expect(listRisks(ctx, { status: 'closed' }).map((r) => r.id)).toEqual([id]);
    expect(riskRegister(ctx).exposure.score).toBe(15);
  });

  it('flags an open risk whose review date has passed, from the end of that day', () => {
    expect(getRisk(ctx, 'R-7')!.reviewOverdue).toBe(true);
    expect(getRisk(ctx, 'R-1')!.reviewOverdue).toBe(false);
    const { id } = addRisk(ctx, { title: 'Due today', reviewBy: '2026-12-05' });
    expect(getRisk(ctx, id)!.reviewOverdue).toBe(false);
    now = new Date('2026-12-06T00:00:00Z');
    expect(getRisk(ctx, id)!.reviewOverdue).toBe(true);
    closeRisk(ctx, id);
    expect(getRisk(ctx, id)!.reviewOverdue).toBe(false);
  });

  it('records every change in the audit trail with the fields changed, and the chain still verifies', () => {
    const { id } = addRisk(ctx, { title: 'Region outage', likelihood: 2, impact: 4 });
    updateRisk(ctx, id, { likelihood: 3, impact: 4 });
    updateRisk(ctx, id, { impact: 4 });
    closeRisk(ctx, id, 'accepted by the board');
    const rows = catalog.audit.list().filter((e) => e.action.startsWith('risk.'));
    expect(rows.map((e) => [e.action, e.target, e.payload])).toEqual([
      ['risk.add', id, { fields: { title: 'Region outage', likelihood: 2, impact: 4 } }],
      ['risk.update', id, { changes: { likelihood: { from: 2, to: 3 } } }],
      ['risk.close', id, { changes: { status: { from: 'open', to: 'closed' } }, reason: 'accepted by the board' }],
    ]);
    expect(catalog.audit.verify()).toMatchObject({ ok: true });
  });
});
