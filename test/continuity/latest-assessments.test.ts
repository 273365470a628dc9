import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { validateConfig } from '../../src/config/validate.js';
import { BusinessContinuityManager } from '../../src/continuity/business-continuity-manager.js';
import { makeTempDir } from '../helpers/cli.js';

/** The config's complianceFrameworks: the frameworks the organisation answers for, and the only ones its scores count. */
describe('latest assessment per framework', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let catalog: Catalog;
  const manager = (complianceFrameworks?: ('SOX' | 'GDPR')[]) =>
    new BusinessContinuityManager({
      config: validateConfig({ sources: {}, destinations: [{ type: 'local', config: { path: join(dir.path, 'repo') } }], ...(complianceFrameworks ? { complianceFrameworks } : {}) }),
      configPath: join(dir.path, 'backup.config.json'),
      catalog,
    });

  beforeAll(async () => {
    dir = await makeTempDir('bkdr-latest-assessments-');
    catalog = openCatalog(join(dir.path, 'catalog.db'));
    const all = manager();
    all.conductComplianceAssessment('SOX', 'auditor');
    all.conductComplianceAssessment('GDPR', 'auditor');
    all.conductComplianceAssessment('SOX', 'auditor');
  });

  afterAll(async () => {
    catalog.close();
    await dir.cleanup();
  });

  it('counts every assessed framework when the config lists none, each by its newest assessment', () => {
    const bc = manager();
    const newestSox = bc.listAssessments({ framework: 'SOX', limit: 1 })[0]!;
    expect(bc.generateExecutiveDashboard().frameworks.map((f) => [f.framework, f.at])).toEqual([
      ['GDPR', bc.listAssessments({ framework: 'GDPR', limit: 1 })[0]!.at],
      ['SOX', newestSox.at],
    ]);
    expect(bc.getKpis().kpis.find((k) => k.name === 'compliance_score')!.samples).toBe(2);
  });

  it('counts only the configured frameworks when the config lists them', () => {
    const bc = manager(['SOX']);
    expect(bc.generateExecutiveDashboard().frameworks.map((f) => f.framework)).toEqual(['SOX']);
    const score = bc.getKpis().kpis.find((k) => k.name === 'compliance_score')!;
    expect(score.samples).toBe(1);
    expect(score.value).toBe(bc.listAssessments({ framework: 'SOX', limit: 1 })[0]!.overallCompliance);
  });
});
