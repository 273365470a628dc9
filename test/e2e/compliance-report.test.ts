import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportDocument } from '../../src/report/report-document.js';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

interface Assessment {
  id: string;
  overallCompliance: number;
  resolvedFindings: { id: string; controlId: string }[];
}

/** Extracts a zip with the system's unzip, else Python's zipfile: a check an auditor could run without bkdr. */
function unzip(zip: string, into: string): void {
  if (spawnSync('which', ['unzip']).status === 0) execFileSync('unzip', ['-q', zip, '-d', into]);
  else execFileSync('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', zip, into]);
}

const sectionOf = (doc: ReportDocument, heading: string) => doc.sections.find((s) => s.heading.startsWith(heading))!;

/**
 * Reports and the evidence bundle from real records, through the built CLI: a backup
 * and a verify, an assessment that fails BR-04, a test restore, an assessment that resolves it.
 */
describe('compliance report, evidence bundle and bc reports', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let first: Assessment;
  let second: Assessment;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-report-');
    await mkdir(join(tmp.path, 'data'), { recursive: true });
    await writeFile(join(tmp.path, 'data', 'ledger.csv'), 'account,amount\n4711,120.50\n');
    ws = await makeWorkspace(tmp.path, [join(tmp.path, 'data')], {
      systems: [{ name: 'ledger', criticality: 'critical', rto: 30, rpo: 60, sources: ['files'] }],
      risks: [{ id: 'R-1', title: 'Disk <b>failure</b>', likelihood: 3, impact: 4, owner: 'ops', reviewBy: '2026-01-01' }],
    });
    const assess = async (): Promise<Assessment> => {
      const r = await ws.run(['--json', 'compliance', 'assess', 'SOX', '--assessor', 'External Auditor']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Assessment;
    };
    expect((await ws.run(['backup', 'run'])).code).toBe(0);
    // A clean verify first, so BR-04 (restores tested) is the only control failing: 4 of 5 applicable, 80 %.
    expect((await ws.run(['backup', 'verify'])).code).toBe(0);
    first = await assess();
    const verify = await ws.run(['backup', 'verify', '--test-restore']);
    expect(verify.code, verify.stderr).toBe(0);
    second = await assess();
  }, 60_000);
  afterAll(() => tmp?.cleanup());

  it('refuses an evidence bundle before the framework was assessed, exit 2', async () => {
    const fresh = await makeTempDir('bkdr-report-fresh-');
    try {
      const empty = await makeWorkspace(fresh.path, [join(tmp.path, 'data')]);
      const r = await empty.run(['compliance', 'evidence', 'SOX', '--out', join(fresh.path, 'b.zip')]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe('bkdr: SOX has no assessment yet: an evidence bundle needs one to report on');
    } finally {
      await fresh.cleanup();
    }
  });

  it('reports both assessments of the period, the score trend and the resolved finding, in Markdown and JSON', async () => {
    expect(second.resolvedFindings.map((f) => f.controlId)).toEqual(['BR-04']);
    const period = ['--from', new Date(Date.now() - 3_600_000).toISOString(), '--to', new Date(Date.now() + 3_600_000).toISOString()];

    const md = await ws.run(['compliance', 'report', 'SOX', ...period]);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^# SOX compliance report\n/);
    expect(md.stdout).toContain(`| ${first.id} | External Auditor | all | 80 % | - | BR-04 |`);
    expect(md.stdout).toContain(`| ${second.id} | External Auditor | all | 100 % | +20 pt | - |`);
    expect(md.stdout).toContain('the score rose from 80 % to 100 % (+20 pt)');
    expect(md.stdout).toMatch(new RegExp(`\\| ${second.resolvedFindings[0]!.id} \\| BR-04 \\| high \\| .* \\| ${second.id} \\|`));

    const json = await ws.run(['compliance', 'report', 'SOX', ...period, '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as ReportDocument;
    expect(sectionOf(doc, 'Assessments in the period').tables[0]!.rows.map((r) => r[1])).toEqual([first.id, second.id]);
    expect(sectionOf(doc, 'Controls of the latest assessment').heading).toContain(second.id);
    expect(sectionOf(doc, 'Controls of the latest assessment').tables[0]!.rows.find((r) => String(r[0]).startsWith('BR-04'))).toEqual([
      expect.any(String),
      'testing',
      'pass',
      expect.any(String),
      expect.stringContaining('successfulTestRestores: 1'),
    ]);
    expect(sectionOf(doc, 'Open findings').tables[0]!.rows).toEqual([]);
    expect(sectionOf(doc, 'Findings resolved in the period').tables[0]!.rows.map((r) => r[1])).toEqual(['BR-04']);

    // A period before any record: no assessment in it, none to show controls of.
    const before = JSON.parse((await ws.run(['compliance', 'report', 'SOX', '--from', '2000-01-01', '--to', '2000-01-31', '--format', 'json'])).stdout) as ReportDocument;
    expect(sectionOf(before, 'Assessments in the period').tables[0]!.rows).toEqual([]);
    expect(sectionOf(before, 'Findings resolved in the period').tables[0]!.rows).toEqual([]);

    const out = join(tmp.path, 'sox.html');
    const html = await ws.run(['compliance', 'report', 'SOX', '--format', 'html', '--out', out]);
    expect(html.code, html.stderr).toBe(0);
    expect(html.stdout).toBe('');
    const page = await readFile(out, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/);
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain(second.id);
  }, 30_000);

  it('writes an evidence bundle whose files match the manifest, with the whole audit trail, verified', async () => {
    const zip = join(tmp.path, 'b.zip');
    const r = await ws.run(['compliance', 'evidence', 'SOX', '--out', zip]);
    expect(r.code, r.stderr).toBe(0);
    const dir = join(tmp.path, 'bundle');
    unzip(zip, dir);

    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { framework: string; assessmentId: string; files: { name: string; sha256: string; bytes: number }[] };
    expect(manifest.framework).toBe('SOX');
    expect(manifest.assessmentId).toBe(second.id);
    expect(manifest.files.map((f) => f.name).sort()).toEqual(['audit-verify.json', 'audit.jsonl', 'evidence.json', 'report.html', 'report.json', 'report.md']);
    for (const f of manifest.files) {
      const body = await readFile(join(dir, f.name));
      expect({ name: f.name, sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length }).toEqual(f);
    }

    const verify = JSON.parse(await readFile(join(dir, 'audit-verify.json'), 'utf8')) as { verification: { ok: boolean; rows: number }; head: { seq: number; hash: string } };
    expect(verify.verification.ok).toBe(true);
    const rows = (await readFile(join(dir, 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; hash: string });
    const audit = JSON.parse((await ws.run(['--json', 'audit', 'list'])).stdout) as { seq: number; hash: string }[];
    expect(rows).toHaveLength(audit.length);
    expect(verify.verification.rows).toBe(rows.length);
    expect(verify.head).toMatchObject({ seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash });

    const evidence = JSON.parse(await readFile(join(dir, 'evidence.json'), 'utf8')) as { controls: { id: string; evidence: Record<string, unknown> }[]; gathered: Record<string, number> };
    expect(evidence.controls.find((c) => c.id === 'BR-04')!.evidence).toMatchObject({ successfulTestRestores: 1 });
    expect(evidence.gathered).toMatchObject({ backups: 1, testRestores: 1, auditEntries: rows.length });
    expect(JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'))).toMatchObject({ title: 'SOX compliance report' });
  }, 30_000);

  it('renders the bc reports: risk as JSON, business impact as Markdown', async () => {
    const risk = await ws.run(['bc', 'report', 'risk', '--format', 'json']);
    expect(risk.code, risk.stderr).toBe(0);
    const doc = JSON.parse(risk.stdout) as ReportDocument;
    expect(doc.title).toBe('Risk report');
    expect(sectionOf(doc, 'Summary').figures).toContainEqual({ label: 'exposure', value: 12 });
    expect(sectionOf(doc, 'Reviews overdue').tables[0]!.rows).toEqual([['R-1', 'Disk <b>failure</b>', 'ops', '2026-01-01']]);
    // Likelihood 3 is the third row from the top (5, 4, 3), impact 4 the fourth column after the label.
    expect(sectionOf(doc, 'Heat map').tables[0]!.rows[2]).toEqual(['3 likely', 0, 0, 0, 1, 0]);

    const bia = await ws.run(['bc', 'report', 'business-impact', '--format', 'md']);
    expect(bia.code, bia.stderr).toBe(0);
    expect(bia.stdout).toMatch(/^# Business impact report\n/);
    expect(bia.stdout).toContain('| ledger | critical | 30m00s | 1h00m |');
    expect(bia.stdout).toContain('critical system without a DR scenario');

    const unknown = await ws.run(['bc', 'report', 'weather']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toMatch(/^bkdr: no report weather; available: backup-status, recovery-readiness/);
  }, 30_000);
});
