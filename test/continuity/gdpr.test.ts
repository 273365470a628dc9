import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssessmentRecord } from '../../src/catalog/assessments-table.js';
import type { BackupRecord } from '../../src/catalog/backups-table.js';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import type { DrExecutionRecord } from '../../src/catalog/dr-executions-table.js';
import type { IncidentRecord } from '../../src/catalog/incidents-table.js';
import type { BkdrConfig } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { silentLogger } from '../../src/core/logger.js';
import { conductAssessment, settingsFor } from '../../src/continuity/compliance/assess.js';
import type { Evidence, TestRestoreEvidence } from '../../src/continuity/compliance/evidence.js';
import type { ControlResult } from '../../src/continuity/compliance/framework.js';
import { gdpr } from '../../src/continuity/compliance/frameworks/gdpr.js';
import { frameworkById } from '../../src/continuity/compliance/frameworks/index.js';
import type { ContinuityContext } from '../../src/continuity/continuity-context.js';
import type { BiaResult } from '../../src/continuity/business-impact.js';
import { makeTempDir } from '../helpers/cli.js';

const NOW = new Date('2027-03-01T12:00:00.000Z');
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

type System = Evidence['systems'][number];
const crm: System = { name: 'crm', personalData: true, sources: ['crm-db'], rto: 30 * MIN, rpo: 60 * MIN, scenarios: ['crm-failover'] };
const wiki: System = { name: 'wiki', sources: ['wiki-files'], rto: 5 * MIN, rpo: 5 * MIN };

const backup = (source: string, destination: string, time: string): BackupRecord => ({
  id: `${source}-${destination}-${time}`,
  destination,
  repositoryId: 'r',
  source,
  strategy: 'full',
  parentId: null,
  time,
  hostname: 'h',
  paths: [],
  tags: [],
  files: 1,
  dirs: 0,
  bytes: 1,
  addedBytes: 1,
  storedBytes: 1,
  summary: null,
  runId: null,
});

const restore = (source: string, durationMs: number, at: string, ok = true): TestRestoreEvidence => ({ at, source, destination: 'vault', durationMs, ok, from: 'verify' });

const execution = (over: Partial<DrExecutionRecord>): DrExecutionRecord => ({
  id: 'x1',
  scenarioId: 'crm-failover',
  status: 'succeeded',
  dryRun: false,
  triggeredBy: 'dr-test:quarterly',
  reason: null,
  detectionAt: null,
  failureAt: null,
  startedAt: ago(10 * DAY + HOUR),
  endedAt: ago(10 * DAY),
  error: null,
  host: null,
  pid: null,
  plan: null,
  steps: [],
  rto: { targetSeconds: 1800, achievedSeconds: 900, met: true },
  rpo: { targetSeconds: null, achievedSeconds: null, met: null },
  ...over,
});

const incident = (over: Partial<IncidentRecord> & Record<string, unknown>): IncidentRecord =>
  ({
    id: 'i1',
    openedAt: ago(10 * DAY),
    closedAt: ago(9 * DAY),
    title: 'laptop lost',
    severity: 'high',
    executionId: null,
    scenarioId: null,
    personalData: true,
    notificationDueAt: null,
    notes: null,
    ...over,
  }) as IncidentRecord;

const assessment = (at: string): AssessmentRecord => ({ id: 'a1', framework: 'SOX', assessor: 'audit', scope: [], at, overallCompliance: 100, controls: [] });

/**
 * A compliant picture: crm (personal data, RTO 30 min, RPO 60 min) backed up 10 and 20
 * min ago to `vault` (encrypted, on site) and `cloud` (encrypted, offsite), restored in
 * 10 min, DR-tested 10 days ago, assessed 20 days ago. `wiki` holds no personal data.
 */
const evidence = (over: Partial<Evidence> = {}): Evidence => ({
  now: NOW,
  config: {} as BkdrConfig,
  systems: [crm, wiki],
  sources: [],
  destinations: [
    { name: 'vault', type: 'local', encrypted: true, offsite: false },
    { name: 'cloud', type: 's3', encrypted: true, offsite: true },
    { name: 'scratch', type: 'local', encrypted: false, offsite: false },
  ],
  scenarios: [],
  plans: new Map(),
  runs: [],
  backups: [backup('crm-db', 'vault', ago(10 * MIN)), backup('crm-db', 'cloud', ago(20 * MIN)), backup('wiki-files', 'scratch', ago(DAY))],
  testRestores: [restore('crm-db', 10 * MIN, ago(5 * DAY))],
  executions: [execution({})],
  dryRuns: [],
  audit: { entries: [], chain: { ok: true, rows: 0 } },
  risks: [],
  incidents: [],
  bia: { systems: [] } as BiaResult,
  assessments: [assessment(ago(20 * DAY))],
  findings: [],
  kpis: [],
  ...over,
});

const run = (id: string, e: Evidence): ControlResult => gdpr.controls.find((c) => c.id === id)!.evaluate(e, gdpr.defaults);

describe('GDPR controls on hand-built evidence', () => {
  it('is registered with its basis, six controls, 32(1)(a) and 33(1) critical', () => {
    expect(frameworkById('gdpr')).toBe(gdpr);
    expect(gdpr.basis).toBe('GDPR Art. 32 and 33');
    expect(gdpr.controls.map((c) => c.id)).toEqual(['32(1)(a)', '32(1)(b)', '32(1)(c)', '32(1)(d)', '33(1)', '33(5)']);
    expect(gdpr.controls.filter((c) => c.severity === 'critical').map((c) => c.id)).toEqual(['32(1)(a)', '33(1)']);
  });

  it('every Art. 32 control is not-applicable when no system holds personal data, whatever else fails', () => {
    const e = evidence({ systems: [wiki], backups: [], testRestores: [], executions: [], assessments: [] });
    for (const id of ['32(1)(a)', '32(1)(b)', '32(1)(c)', '32(1)(d)']) expect(run(id, e).status).toBe('not-applicable');
  });

  it('Art. 33 controls are not-applicable without a personal-data incident; an incident without personal data does not count', () => {
    const e = evidence({ incidents: [incident({ personalData: false })] });
    expect(run('33(1)', e).status).toBe('not-applicable');
    expect(run('33(5)', e).status).toBe('not-applicable');
  });

  it('the compliant picture passes every Art. 32 control', () => {
    for (const id of ['32(1)(a)', '32(1)(b)', '32(1)(c)', '32(1)(d)']) expect(run(id, evidence()), id).toMatchObject({ status: 'pass' });
  });

  it('32(1)(a): only destinations holding personal data are judged; the unencrypted scratch with wiki data does not fail it, a crm backup there does', () => {
    expect(run('32(1)(a)', evidence()).evidence['destinations']).toEqual([
      { name: 'vault', encrypted: true },
      { name: 'cloud', encrypted: true },
    ]);
    const e = evidence({ backups: [...evidence().backups, backup('crm-db', 'scratch', ago(HOUR))] });
    expect(run('32(1)(a)', e)).toMatchObject({ status: 'fail', detail: expect.stringContaining('scratch') });
  });

  it('32(1)(a): before any backup every configured destination is judged, so the unencrypted scratch fails it', () => {
    expect(run('32(1)(a)', evidence({ backups: [] })).status).toBe('fail');
  });

  it('32(1)(b): one copy fails (2 needed); two copies both on site fail (1 offsite needed); a newest backup 61 min old fails the 60 min RPO', () => {
    const one = run('32(1)(b)', evidence({ backups: [backup('crm-db', 'cloud', ago(MIN))] }));
    expect(one).toMatchObject({ status: 'fail', detail: 'crm-db has copies on 1 destinations, fewer than 2' });
    const onSite = run('32(1)(b)', evidence({ backups: [backup('crm-db', 'vault', ago(MIN)), backup('crm-db', 'scratch', ago(MIN))] }));
    expect(onSite).toMatchObject({ status: 'fail', detail: 'crm-db has 0 offsite copies, fewer than 1' });
    const stale = run('32(1)(b)', evidence({ backups: [backup('crm-db', 'vault', ago(61 * MIN)), backup('crm-db', 'cloud', ago(70 * MIN))] }));
    expect(stale).toMatchObject({ status: 'fail', detail: 'the newest backup of crm-db is 61 min old, older than its RPO (60 min)' });
  });

  it('32(1)(b): at exactly the RPO (60 min) it still passes; the settings can ask for 3 copies', () => {
    const e = evidence({ backups: [backup('crm-db', 'vault', ago(60 * MIN)), backup('crm-db', 'cloud', ago(60 * MIN))] });
    expect(run('32(1)(b)', e).status).toBe('pass');
    expect(gdpr.controls[1]!.evaluate(e, { ...gdpr.defaults, copies: 3 }).status).toBe('fail');
  });

  it('32(1)(c): the slower of the newest test restore (10 min) and the newest DR RTO (15 min) is the achieved time; 31 min fails the 30 min RTO', () => {
    expect(run('32(1)(c)', evidence()).evidence['systems']).toMatchObject([{ system: 'crm', rtoMs: 30 * MIN, achievedMs: 15 * MIN }]);
    const slow = run('32(1)(c)', evidence({ testRestores: [restore('crm-db', 31 * MIN, ago(DAY)), restore('crm-db', MIN, ago(2 * DAY))], executions: [] }));
    expect(slow).toMatchObject({ status: 'fail', detail: 'crm restored in 1860 s, longer than its RTO (1800 s)' });
    const dr = run('32(1)(c)', evidence({ testRestores: [], executions: [execution({ rto: { targetSeconds: 1800, achievedSeconds: 2400, met: false } })] }));
    expect(dr).toMatchObject({ status: 'fail', detail: 'crm restored in 2400 s, longer than its RTO (1800 s)' });
  });

  it('32(1)(c): a failed restore is no measurement; no RTO fails too', () => {
    const none = run('32(1)(c)', evidence({ testRestores: [restore('crm-db', MIN, ago(DAY), false)], executions: [] }));
    expect(none).toMatchObject({ status: 'fail', detail: 'no restore of crm was measured within 365 days' });
    const { rto: _rto, ...noRto } = crm;
    expect(run('32(1)(c)', evidence({ systems: [noRto] })).detail).toBe('crm has no RTO to restore within');
  });

  it('32(1)(d): a DR test 91 days ago or an assessment 91 days ago fails; a failover that is not a test does not count', () => {
    expect(run('32(1)(d)', evidence({ executions: [execution({ endedAt: ago(91 * DAY) })] }))).toMatchObject({ status: 'fail', detail: 'no DR test ended within 90 days' });
    expect(run('32(1)(d)', evidence({ assessments: [assessment(ago(91 * DAY))] }))).toMatchObject({ status: 'fail', detail: 'no assessment within 90 days' });
    expect(run('32(1)(d)', evidence({ executions: [execution({ triggeredBy: 'watch' })] })).status).toBe('fail');
    expect(run('32(1)(d)', evidence({ executions: [execution({ status: 'failed' })] })).status).toBe('pass');
  });

  it('33(1): without notification columns an incident past its 72 h fails and the detail says times are not recorded; one 71 h old is pending', () => {
    const late = run('33(1)', evidence({ incidents: [incident({ openedAt: ago(73 * HOUR) })] }));
    expect(late.status).toBe('fail');
    expect(late.detail).toContain('records no notification times');
    expect(run('33(1)', evidence({ incidents: [incident({ openedAt: ago(71 * HOUR), closedAt: null })] })).status).toBe('pass');
  });

  it('33(1): with the columns, notified at 72 h passes, at 73 h fails, 73 h with a reason passes', () => {
    const openedAt = ago(10 * DAY);
    const at = (h: number) => new Date(Date.parse(openedAt) + h * HOUR).toISOString();
    expect(run('33(1)', evidence({ incidents: [incident({ openedAt, notifiedAt: at(72), notificationDelayReason: null })] })).status).toBe('pass');
    expect(run('33(1)', evidence({ incidents: [incident({ openedAt, notifiedAt: at(73), notificationDelayReason: null })] })).status).toBe('fail');
    expect(run('33(1)', evidence({ incidents: [incident({ openedAt, notifiedAt: at(73), notificationDelayReason: 'forensics took 4 days' })] })).status).toBe('pass');
    expect(run('33(1)', evidence({ incidents: [incident({ openedAt, notifiedAt: null, notificationDelayReason: '  ' })] })).status).toBe('fail');
  });

  it('33(5): with the columns all three are needed; without them the notes are read and the detail says so', () => {
    const full = { facts: 'disk stolen', effects: '1 200 customer records', remedialAction: 'keys rotated' };
    expect(run('33(5)', evidence({ incidents: [incident(full)] })).status).toBe('pass');
    expect(run('33(5)', evidence({ incidents: [incident({ ...full, effects: null })] }))).toMatchObject({
      status: 'fail',
      detail: '1 of 1 personal-data incidents are not documented: i1 lacks effects',
    });
    expect(run('33(5)', evidence({ incidents: [incident({ notes: 'stolen laptop; 1 200 records; keys rotated' })] })).detail).toContain('the notes were read instead');
    expect(run('33(5)', evidence({ incidents: [incident({ notes: null })] })).status).toBe('fail');
    expect(run('33(5)', evidence({ incidents: [incident({ notes: null, closedAt: null, openedAt: ago(HOUR) })] })).status).toBe('pass');
  });
});

describe('GDPR assessed on a real catalog (in-process)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let catalog: Catalog;
  let ctx: ContinuityContext;

  beforeAll(async () => {
    dir = await makeTempDir('bkdr-gdpr-');
    const config = validateConfig(
      {
        sources: { 'crm-db': { type: 'files', paths: [join(dir.path, 'data')] } },
        destinations: [
          { name: 'vault', type: 'local', config: { path: join(dir.path, 'vault') } },
          { name: 'cloud', type: 'local', offsite: true, config: { path: join(dir.path, 'cloud') } },
        ],
        systems: [{ name: 'crm', personalData: true, sources: ['crm-db'], rto: 30, rpo: 60 }],
        catalog: { path: join(dir.path, 'catalog.db') },
      },
      join(dir.path, 'backup.config.json'),
    );
    catalog = openCatalog(join(dir.path, 'catalog.db'));
    ctx = { config, configDir: dir.path, catalog, logger: silentLogger, now: () => NOW };
    catalog.backups.upsert(backup('crm-db', 'vault', ago(10 * MIN)));
    catalog.backups.upsert(backup('crm-db', 'cloud', ago(20 * MIN)));
    // A DR test that ended 10 days ago; crm names no scenario and no restore was tested, so it says nothing about the restore time.
    const id = catalog.drExecutions.create({ scenarioId: 'crm-failover', triggeredBy: 'dr-test:quarterly', startedAt: new Date(NOW.getTime() - 10 * DAY - HOUR), plan: null, steps: [] });
    catalog.drExecutions.finish(id, 'succeeded', { endedAt: new Date(NOW.getTime() - 10 * DAY), rtoAchievedSeconds: 900 });
    catalog.incidents.open({
      title: 'laptop lost',
      severity: 'high',
      personalData: true,
      facts: 'stolen laptop',
      effects: '1 200 records of customers',
      remedialAction: 'keys rotated, device wiped remotely',
      openedAt: new Date(NOW.getTime() - 5 * DAY),
    });
  });

  afterAll(async () => {
    catalog?.close();
    await dir?.cleanup();
  });

  it('scores 3 of 6 = 50 % first, then 4 of 6 = 66.7 % once the first assessment counts for 32(1)(d)', () => {
    expect(settingsFor(ctx, gdpr)).toEqual(gdpr.defaults);
    // Pass: (a) vault and cloud encrypted by default; (b) 2 copies, cloud offsite, newest 10 min ≤ 60 min; 33(5) notes recorded.
    // Fail: (c) no restore measured; (d) no earlier assessment; 33(1) opened 5 d ago, no notification recorded.
    const first = conductAssessment(ctx, 'GDPR', { assessor: 'dpo' });
    const status = Object.fromEntries(first.controls.map((c) => [c.id, c.status]));
    expect(status).toEqual({ '32(1)(a)': 'pass', '32(1)(b)': 'pass', '32(1)(c)': 'fail', '32(1)(d)': 'fail', '33(1)': 'fail', '33(5)': 'pass' });
    expect(first.overallCompliance).toBe(50);
    expect(first.findings.map((f) => [f.controlId, f.severity]).sort()).toEqual([
      ['32(1)(c)', 'high'],
      ['32(1)(d)', 'medium'],
      ['33(1)', 'critical'],
    ]);
    expect(first.findings.find((f) => f.controlId === '33(1)')!.dueDate).toBe('2027-03-08');

    const second = conductAssessment(ctx, 'GDPR', { assessor: 'dpo' });
    expect(second.controls.find((c) => c.id === '32(1)(d)')!.status).toBe('pass');
    expect(second.overallCompliance).toBe(66.7);
    expect(second.resolvedFindings.map((f) => f.controlId)).toEqual(['32(1)(d)']);
  });
});
