import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AssessedControl } from '../../src/catalog/assessments-table.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { validateConfig } from '../../src/config/validate.js';
import { silentLogger } from '../../src/core/logger.js';
import { generateComplianceReport } from '../../src/continuity/compliance-report.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import type { ReportDocument } from '../../src/report/report-document.js';

const control = (id: string, status: AssessedControl['status'], evidence: Record<string, unknown> = {}): AssessedControl => ({
  id,
  title: `control ${id}`,
  area: 'backup',
  status,
  evidence,
  detail: `${id} ${status}`,
});
const finding = (controlId: string, dueDate: string) => ({ controlId, severity: 'high' as const, title: `SOX ${controlId}`, detail: 'failed', remediation: `fix ${controlId}`, dueDate });
const rowsOf = (doc: ReportDocument, heading: string) => doc.sections.find((s) => s.heading.startsWith(heading))!.tables[0]!.rows;

/** Assessments recorded straight into the catalog at chosen times, so the period's edges and due dates are exact. */
describe('compliance report document', () => {
  let catalog: Catalog;
  let ctx: ContinuityContext;

  beforeEach(() => {
    catalog = openCatalog(':memory:');
    const config = validateConfig({ sources: {}, destinations: [{ name: 'local', type: 'local', config: { path: '/tmp/unused' } }] }, 'test');
    ctx = { config, configDir: '/tmp', catalog, logger: silentLogger, now: () => new Date('2026-12-05T12:00:00Z') };
    const record = (at: string, controls: AssessedControl[], failed: ReturnType<typeof finding>[], score: number) =>
      catalog.assessments.record({ framework: 'SOX', assessor: 'auditor', scope: [], at, overallCompliance: score, controls }, failed);
    record('2026-10-01T00:00:00.000Z', [control('BR-02', 'fail'), control('BR-04', 'fail')], [finding('BR-02', '2026-11-30'), finding('BR-04', '2026-12-05')], 60);
    record('2026-11-15T00:00:00.000Z', [control('BR-02', 'fail'), control('BR-04', 'pass', { successfulTestRestores: 1 })], [finding('BR-02', '2026-12-15')], 80);
  });
  afterEach(() => catalog.close());

  it('flags an open finding past its due date as overdue and lists the one resolved in the period', () => {
    const doc = generateComplianceReport(ctx, 'SOX', { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-05T12:00:00Z') });
    // BR-02's finding keeps the due date it was opened with (2026-11-30); BR-04's was resolved on 2026-11-15.
    expect(rowsOf(doc, 'Open findings').map((r) => [r[1], r[5], r[6]])).toEqual([['BR-02', '2026-11-30', 'OVERDUE by 5 d']]);
    expect(rowsOf(doc, 'Findings resolved in the period').map((r) => r[1])).toEqual(['BR-04']);
    expect(rowsOf(doc, 'Assessments in the period').map((r) => r[4])).toEqual(['80 %']);
    expect(doc.sections[0]!.figures).toContainEqual({ label: 'overdue findings', value: 1 });
  });

  it('shows the controls of the latest assessment before a period that holds none, and says so', () => {
    const doc = generateComplianceReport(ctx, 'SOX', { start: new Date('2026-10-02T00:00:00Z'), end: new Date('2026-10-31T00:00:00Z') });
    const controls = doc.sections.find((s) => s.heading.startsWith('Controls'))!;
    expect(controls.paragraphs).toEqual(['No assessment falls in the period; these are the controls of the latest one before it.']);
    expect(controls.tables[0]!.rows.map((r) => r[2])).toEqual(['fail', 'fail']);
    expect(rowsOf(doc, 'Assessments in the period')).toEqual([]);
    expect(rowsOf(doc, 'Findings resolved in the period')).toEqual([]);
  });

  it('counts calendar days to the due date: due in 2 d, then due today through its last hour', () => {
    const statusAt = (now: string) =>
      rowsOf(generateComplianceReport({ ...ctx, now: () => new Date(now) }, 'SOX', { start: new Date('2026-11-01T00:00:00Z'), end: new Date(now) }), 'Open findings')[0]![6];
    expect(statusAt('2026-11-28T23:00:00Z')).toBe('due in 2 d');
    expect(statusAt('2026-11-30T00:30:00Z')).toBe('due today');
    expect(statusAt('2026-11-30T23:59:00Z')).toBe('due today');
    expect(statusAt('2026-12-01T00:00:01Z')).toBe('OVERDUE by 1 d');
  });
});
