import { isDrTest } from '../../../catalog/dr-executions-table.js';
import type { BackupRecord } from '../../../catalog/backups-table.js';
import type { IncidentRecord } from '../../../catalog/incidents-table.js';
import { fail, type Framework, notApplicable, pass } from '../framework.js';
import { type Evidence, within } from '../evidence.js';

/**
 * GDPR Art. 32 (security of processing) and Art. 33 (notifying a breach), as far as
 * bkdr's own records can show them. Art. 32 is in scope for systems marked
 * `personalData`; Art. 33 for incidents marked `personalData` (an incident can touch
 * personal data a system was never marked for, and it still has to be notified).
 * Control ids are the paragraph numbers; the titles paraphrase.
 */

const personalSystems = (e: Evidence) => e.systems.filter((s) => s.personalData === true);
const personalSources = (e: Evidence) => [...new Set(personalSystems(e).flatMap((s) => s.sources ?? []))];
const NO_PERSONAL_DATA = 'no system is marked personalData';
const HOUR_MS = 3_600_000;

/**
 * The Art. 33 columns (notified_at, notification_delay_reason, facts, effects,
 * remedial_action) arrive with another change; until then the record lacks them and
 * the rules say so instead of guessing.
 */
interface BreachFields {
  notifiedAt?: string | null;
  notificationDelayReason?: string | null;
  facts?: string | null;
  effects?: string | null;
  remedialAction?: string | null;
}
const breach = (i: IncidentRecord) => i as IncidentRecord & BreachFields;
const filled = (v: string | null | undefined) => typeof v === 'string' && v.trim() !== '';
const personalIncidents = (e: Evidence, days: number) => within(e.incidents, days, e.now, (i) => i.openedAt).filter((i) => i.personalData);

/** The strictest RPO (ms) among the personal-data systems that name the source; undefined when none sets one. */
function rpoOf(e: Evidence, source: string): number | undefined {
  const rpos = personalSystems(e)
    .filter((s) => s.sources?.includes(source) && s.rpo !== undefined)
    .map((s) => s.rpo!);
  return rpos.length ? Math.min(...rpos) : undefined;
}

export const gdpr: Framework = {
  id: 'GDPR',
  name: 'GDPR security of processing and breach notification',
  basis: 'GDPR Art. 32 and 33',
  defaults: { copies: 2, offsiteCopies: 1, restoreWithinDays: 365, testWithinDays: 90, assessmentWithinDays: 90, notifyWithinHours: 72, incidentWindowDays: 365 },
  controls: [
    {
      id: '32(1)(a)',
      title: 'Backups of personal data are encrypted',
      area: 'protection',
      severity: 'critical',
      remediation: 'Turn encryption on for every destination that holds backups of personal-data systems.',
      evaluate(e) {
        const systems = personalSystems(e);
        if (systems.length === 0) return notApplicable(NO_PERSONAL_DATA);
        const sources = personalSources(e);
        const holding = new Set(e.backups.filter((b) => sources.includes(b.source)).map((b) => b.destination));
        // Before the first backup, any configured destination may receive the data: judge them all rather than pass on nothing.
        const destinations = holding.size ? e.destinations.filter((d) => holding.has(d.name)) : e.destinations;
        const plain = destinations.filter((d) => !d.encrypted).map((d) => d.name);
        const evidence = { systems: systems.map((s) => s.name), sources, destinations: destinations.map((d) => ({ name: d.name, encrypted: d.encrypted })) };
        return plain.length
          ? fail(`not encrypted but holding (or due to hold) personal data: ${plain.join(', ')}`, evidence)
          : pass(`all ${destinations.length} destinations holding personal data are encrypted`, evidence);
      },
    },
    {
      id: '32(1)(b)',
      title: 'Personal data stays available: enough copies, one offsite, fresh enough for the RPO',
      area: 'backup',
      severity: 'high',
      remediation: 'Back up (or `bkdr backup copy`) every personal-data source to at least two destinations, one offsite, on a schedule within the system RPO.',
      evaluate(e, s) {
        const systems = personalSystems(e);
        if (systems.length === 0) return notApplicable(NO_PERSONAL_DATA);
        const copies = s['copies']!;
        const offsiteCopies = s['offsiteCopies']!;
        const offsite = new Set(e.destinations.filter((d) => d.offsite).map((d) => d.name));
        const problems = systems.filter((sys) => !sys.sources?.length).map((sys) => `${sys.name} names no source`);
        // Copies are destinations holding a backup of the source; the live data is not counted: it is what the copies must survive.
        const perSource = personalSources(e).map((source) => {
          // Times are parsed, not compared as text: a snapshot time may carry an offset or more digits than an ISO string from Date.
          const backups = e.backups.filter((b) => b.source === source && Date.parse(b.time) <= e.now.getTime());
          const destinations = [...new Set(backups.map((b) => b.destination))].sort();
          const newest = backups.reduce<BackupRecord | null>((max, b) => (max === null || Date.parse(b.time) > Date.parse(max.time) ? b : max), null);
          const ageMs = newest === null ? null : e.now.getTime() - Date.parse(newest.time);
          return { source, destinations, offsite: destinations.filter((d) => offsite.has(d)), newest: newest?.time ?? null, ageMs, rpoMs: rpoOf(e, source) ?? null };
        });
        for (const p of perSource) {
          if (p.destinations.length < copies) problems.push(`${p.source} has copies on ${p.destinations.length} destinations, fewer than ${copies}`);
          if (p.offsite.length < offsiteCopies) problems.push(`${p.source} has ${p.offsite.length} offsite copies, fewer than ${offsiteCopies}`);
          if (p.ageMs === null) problems.push(`${p.source} was never backed up`);
          else if (p.rpoMs !== null && p.ageMs > p.rpoMs) problems.push(`the newest backup of ${p.source} is ${Math.round(p.ageMs / 60_000)} min old, older than its RPO (${p.rpoMs / 60_000} min)`);
        }
        const evidence = { copies, offsiteCopies, sources: perSource };
        return problems.length
          ? fail(problems.join('; '), evidence)
          : pass(`each of ${perSource.length} personal-data sources has ≥ ${copies} copies, ≥ ${offsiteCopies} offsite, the newest within its RPO`, evidence);
      },
    },
    {
      id: '32(1)(c)',
      title: 'Personal data can be restored in time',
      area: 'recovery',
      severity: 'high',
      remediation: 'Set an RTO on every personal-data system and test its restore (`bkdr backup verify --test-restore` or a DR test) until it fits the RTO.',
      evaluate(e, s) {
        const systems = personalSystems(e);
        if (systems.length === 0) return notApplicable(NO_PERSONAL_DATA);
        const days = s['restoreWithinDays']!;
        const restores = within(e.testRestores, days, e.now, (t) => t.at).filter((t) => t.ok && t.durationMs !== null);
        const executions = within(e.executions, days, e.now, (x) => x.endedAt).filter((x) => x.rto.achievedSeconds !== null);
        const problems: string[] = [];
        const perSystem = systems.map((sys) => {
          // The last achieved time is what the system can do now; an older, faster one says nothing about today.
          const sourceRestores = (sys.sources ?? []).map((source) => ({ source, durationMs: restores.find((t) => t.source === source)?.durationMs ?? null }));
          const drExecution = executions.find((x) => sys.scenarios?.includes(x.scenarioId));
          const drAchievedMs = drExecution ? drExecution.rto.achievedSeconds! * 1000 : null;
          const measured = [...sourceRestores.map((r) => r.durationMs), drAchievedMs].filter((ms): ms is number => ms !== null);
          const achievedMs = measured.length ? Math.max(...measured) : null;
          if (sys.rto === undefined) problems.push(`${sys.name} has no RTO to restore within`);
          else if (achievedMs === null) problems.push(`no restore of ${sys.name} was measured within ${days} days`);
          else if (achievedMs > sys.rto) problems.push(`${sys.name} restored in ${achievedMs / 1000} s, longer than its RTO (${sys.rto / 1000} s)`);
          return {
            system: sys.name,
            rtoMs: sys.rto ?? null,
            achievedMs,
            sourceRestores,
            drExecution: drExecution ? { id: drExecution.id, scenarioId: drExecution.scenarioId, achievedMs: drAchievedMs } : null,
          };
        });
        const evidence = { withinDays: days, systems: perSystem };
        return problems.length ? fail(problems.join('; '), evidence) : pass(`each of ${systems.length} personal-data systems was last restored within its RTO`, evidence);
      },
    },
    {
      id: '32(1)(d)',
      title: 'The measures are tested and evaluated regularly',
      area: 'testing',
      severity: 'medium',
      remediation: 'Run a DR test (`bkdr dr test`) and a compliance assessment at least every 90 days.',
      evaluate(e, s) {
        if (personalSystems(e).length === 0) return notApplicable(NO_PERSONAL_DATA);
        const testDays = s['testWithinDays']!;
        const assessmentDays = s['assessmentWithinDays']!;
        // A failed test is still a test: it is the testing that is regular, its outcome is other controls' business.
        const tests = within(e.executions.filter(isDrTest), testDays, e.now, (x) => x.endedAt);
        // Any framework's earlier assessment evaluates the measures; the one being conducted is not in the evidence, so it cannot vouch for itself.
        const assessments = within(e.assessments, assessmentDays, e.now, (a) => a.at);
        const evidence = {
          testWithinDays: testDays,
          assessmentWithinDays: assessmentDays,
          lastDrTest: tests[0] ? { id: tests[0].id, scenarioId: tests[0].scenarioId, endedAt: tests[0].endedAt, status: tests[0].status } : null,
          lastAssessment: assessments[0] ? { id: assessments[0].id, framework: assessments[0].framework, at: assessments[0].at } : null,
        };
        const missing = [tests.length ? null : `no DR test ended within ${testDays} days`, assessments.length ? null : `no assessment within ${assessmentDays} days`].filter((m) => m !== null);
        return missing.length ? fail(missing.join('; '), evidence) : pass(`a DR test ended at ${tests[0]!.endedAt} and an assessment ran at ${assessments[0]!.at}`, evidence);
      },
    },
    {
      id: '33(1)',
      title: 'Personal-data breaches are notified to the authority within 72 hours, or the delay is explained',
      area: 'incident',
      severity: 'critical',
      remediation: 'Notify the supervisory authority of every personal-data incident and record when, or record why it was late.',
      evaluate(e, s) {
        const incidents = personalIncidents(e, s['incidentWindowDays']!);
        if (incidents.length === 0) return notApplicable(`no incident touching personal data within ${s['incidentWindowDays']} days`);
        const hours = s['notifyWithinHours']!;
        const recorded = incidents.some((i) => 'notifiedAt' in i);
        const rows = incidents.map((i) => {
          const b = breach(i);
          const dueAt = Date.parse(i.openedAt) + hours * HOUR_MS;
          const notifiedAt = b.notifiedAt ?? null;
          const reason = filled(b.notificationDelayReason) ? b.notificationDelayReason! : null;
          const onTime = notifiedAt !== null && Date.parse(notifiedAt) <= dueAt;
          // Still inside the window and not yet notified: pending, not late.
          const pending = notifiedAt === null && e.now.getTime() <= dueAt;
          return { id: i.id, openedAt: i.openedAt, dueAt: new Date(dueAt).toISOString(), notifiedAt, delayReason: reason, ok: onTime || pending || reason !== null };
        });
        const late = rows.filter((r) => !r.ok);
        const evidence = { notifyWithinHours: hours, notificationTimesRecorded: recorded, incidents: rows };
        const note = recorded ? '' : ' (the catalog records no notification times, so none can be shown)';
        return late.length
          ? fail(`${late.length} of ${rows.length} personal-data incidents were not notified within ${hours} h and record no reason: ${late.map((r) => r.id).join(', ')}${note}`, evidence)
          : pass(`each of ${rows.length} personal-data incidents was notified within ${hours} h, records a reason for the delay, or is not yet due${note}`, evidence);
      },
    },
    {
      id: '33(5)',
      title: 'Personal-data breaches are documented: facts, effects and remedial action',
      area: 'incident',
      severity: 'high',
      remediation: 'Record the facts, the effects and the remedial action of every personal-data incident.',
      evaluate(e, s) {
        const incidents = personalIncidents(e, s['incidentWindowDays']!);
        if (incidents.length === 0) return notApplicable(`no incident touching personal data within ${s['incidentWindowDays']} days`);
        const hours = s['notifyWithinHours']!;
        const structured = incidents.some((i) => 'facts' in i || 'effects' in i || 'remedialAction' in i);
        const rows = incidents.map((i) => {
          const b = breach(i);
          // Without the three columns the notes are the only record there is; they are judged as the whole documentation.
          const missing = structured ? (['facts', 'effects', 'remedialAction'] as const).filter((f) => !filled(b[f])) : filled(i.notes) ? [] : ['notes'];
          // An open incident younger than the notification deadline is still being worked out.
          const pending = i.closedAt === null && e.now.getTime() <= Date.parse(i.openedAt) + hours * HOUR_MS;
          return { id: i.id, openedAt: i.openedAt, closedAt: i.closedAt, missing, pending };
        });
        const undocumented = rows.filter((r) => r.missing.length && !r.pending);
        const evidence = { structuredFields: structured, incidents: rows };
        const note = structured ? '' : ' (the catalog records no separate facts, effects or remedial action; the notes were read instead)';
        return undocumented.length
          ? fail(`${undocumented.length} of ${rows.length} personal-data incidents are not documented: ${undocumented.map((r) => `${r.id} lacks ${r.missing.join(', ')}`).join('; ')}${note}`, evidence)
          : pass(`each of ${rows.length} personal-data incidents is documented or still within its first ${hours} h${note}`, evidence);
      },
    },
  ],
};
