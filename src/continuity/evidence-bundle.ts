import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AuditEntry, AuditVerification } from '../catalog/audit-log.js';
import { UsageError } from '../core/errors.js';
import { renderReport } from '../report/report-document.js';
import { requireFramework } from './compliance/assess.js';
import { gatherEvidence } from './compliance/evidence.js';
import { DAY_MS } from './compliance/framework.js';
import { generateComplianceReport } from './compliance-report.js';
import type { ContinuityContext } from './continuity-context.js';

export interface EvidenceBundleFile {
  name: string;
  sha256: string;
  bytes: number;
}

export interface EvidenceBundleResult {
  file: string;
  framework: string;
  assessmentId: string;
  period: { start: string; end: string };
  /** What manifest.json lists: every file of the bundle but the manifest itself. */
  files: EvidenceBundleFile[];
  /** The manifest's own SHA-256: one value that pins the whole bundle. */
  manifestSha256: string;
}

/** The report in the bundle covers the year before it is made, an audit year. */
const BUNDLE_PERIOD_DAYS = 365;
/** Every audit row: the export is the whole chain, or it proves nothing. */
const ALL_AUDIT_ROWS = 1_000_000_000;

/**
 * `compliance evidence`: one zip an auditor can check without bkdr. The report in three
 * renderings, the latest assessment's controls with the evidence values they were
 * judged on, the whole audit trail with the chain's verification and head, and a
 * manifest holding each file's SHA-256 and size. Written to a temporary name and
 * renamed, so a failed write never leaves half a bundle under the requested name.
 */
export async function writeEvidenceBundle(ctx: ContinuityContext, frameworkId: string, outPath: string): Promise<EvidenceBundleResult> {
  const framework = requireFramework(frameworkId);
  const latest = ctx.catalog.assessments.list({ framework: framework.id, limit: 1 })[0];
  if (!latest) throw new UsageError(`${framework.id} has no assessment yet: an evidence bundle needs one to report on`);
  const folder = await stat(dirname(resolve(outPath))).catch(() => undefined);
  if (!folder?.isDirectory()) throw new UsageError(`cannot write the bundle ${outPath}: ${dirname(resolve(outPath))} is not a directory`);

  const now = ctx.now();
  const period = { start: new Date(now.getTime() - BUNDLE_PERIOD_DAYS * DAY_MS), end: now };
  // One read transaction: the rows exported, their verification and the head named are the same chain, even while another process appends.
  const { entries, verification } = ctx.catalog.db.transaction((): { entries: AuditEntry[]; verification: AuditVerification } => ({
    entries: ctx.catalog.audit.list({ limit: ALL_AUDIT_ROWS }),
    verification: ctx.catalog.audit.verify(),
  }))();
  const head = entries.at(-1);
  const report = generateComplianceReport(ctx, framework.id, period);
  const gathered = gatherEvidence(ctx);

  const evidence = {
    framework: framework.id,
    assessment: { id: latest.id, at: latest.at, assessor: latest.assessor, scope: latest.scope, overallCompliance: latest.overallCompliance },
    controls: latest.controls,
    // What the evidence module reads now, counted: a reviewer sees how much the verdicts rest on.
    gathered: {
      at: gathered.now.toISOString(),
      runs: gathered.runs.length,
      backups: gathered.backups.length,
      testRestores: gathered.testRestores.length,
      drExecutions: gathered.executions.length,
      drDryRuns: gathered.dryRuns.length,
      auditEntries: gathered.audit.entries.length,
      risks: gathered.risks.length,
      incidents: gathered.incidents.length,
      systems: gathered.systems.length,
      sources: gathered.sources.length,
      destinations: gathered.destinations.length,
      scenarios: gathered.scenarios.length,
    },
  };

  const contents: [string, Buffer][] = [
    ['report.md', Buffer.from(renderReport(report, 'md'))],
    ['report.html', Buffer.from(renderReport(report, 'html'))],
    ['report.json', Buffer.from(renderReport(report, 'json'))],
    ['evidence.json', json(evidence)],
    ['audit.jsonl', Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(''))],
    ['audit-verify.json', json({ verification, head: head ? { seq: head.seq, hash: head.hash, time: head.time } : null })],
  ];
  const files = contents.map(([name, body]) => ({ name, sha256: sha256(body), bytes: body.length }));
  const manifest = json({
    format: 'bkdr-evidence-bundle',
    version: 1,
    framework: framework.id,
    assessmentId: latest.id,
    generatedAt: now.toISOString(),
    period: report.period,
    files,
  });

  await writeZip(outPath, [...contents, ['manifest.json', manifest]], now);
  return { file: outPath, framework: framework.id, assessmentId: latest.id, period: report.period!, files, manifestSha256: sha256(manifest) };
}

const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
const sha256 = (body: Buffer): string => createHash('sha256').update(body).digest('hex');

async function writeZip(outPath: string, entries: [string, Buffer][], date: Date): Promise<void> {
  const { default: archiver } = await import('archiver');
  const temp = `${outPath}.partial-${process.pid}`;
  const out = createWriteStream(temp, { mode: 0o600 });
  const archive = archiver('zip', { zlib: { level: 9 } });
  const done = new Promise<void>((resolveDone, reject) => {
    out.on('close', resolveDone);
    out.on('error', reject);
    archive.on('error', reject);
  });
  // A write can fail before `done` is awaited: never an unhandled rejection.
  done.catch(() => undefined);
  archive.pipe(out);
  try {
    // One date for every entry: the same records give the same bytes inside.
    for (const [name, body] of entries) archive.append(body, { name, date, mode: 0o644 });
    await archive.finalize();
    await done;
    await rename(temp, outPath);
  } catch (err) {
    archive.abort();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
