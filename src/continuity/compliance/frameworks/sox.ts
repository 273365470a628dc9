import { fail, type Framework, notApplicable, pass } from '../framework.js';
import { type Evidence, within } from '../evidence.js';

/**
 * SOX names no control ids of its own: backup and recovery sit in the IT general
 * controls ("computer operations"). The BR-* ids are bkdr's (CONTINUITY.md).
 * Systems in scope are those tagged `sox`.
 */

const soxSystems = (e: Evidence) => e.systems.filter((s) => s.tags?.includes('sox'));
const soxSources = (e: Evidence) => [...new Set(soxSystems(e).flatMap((s) => s.sources ?? []))];
const backupRuns = (e: Evidence) => e.runs.filter((r) => r.kind === 'backup');
const FAILED = new Set(['failed', 'partial', 'interrupted', 'died']);

export const sox: Framework = {
  id: 'SOX',
  name: 'Sarbanes-Oxley IT general controls: backup and recovery',
  basis: 'SOX section 404 ITGC, computer operations (bkdr control ids BR-01..08)',
  defaults: { successWindowDays: 30, successPercent: 95, failureResolvedHours: 24, verifyWithinDays: 7, testRestoreWithinDays: 90 },
  controls: [
    {
      id: 'BR-01',
      title: 'In-scope systems are backed up on a schedule that meets their RPO',
      area: 'backup',
      severity: 'high',
      remediation: 'Give every source of a sox-tagged system a schedule whose interval is no longer than the system RPO.',
      evaluate(e) {
        const systems = soxSystems(e);
        if (systems.length === 0) return notApplicable('no system is tagged sox');
        const problems: string[] = [];
        for (const system of systems) {
          if (!system.sources?.length) problems.push(`${system.name} names no source`);
          for (const name of system.sources ?? []) {
            const source = e.sources.find((s) => s.name === name);
            if (!source || source.scheduleIntervalMs === null) problems.push(`${name} (of ${system.name}) has no schedule`);
            else if (system.rpo !== undefined && source.scheduleIntervalMs > system.rpo)
              problems.push(`${name} runs every ${source.scheduleIntervalMs / 60_000} min, longer than the RPO of ${system.name} (${system.rpo / 60_000} min)`);
          }
        }
        const evidence = { systems: systems.map((s) => s.name), sources: e.sources.filter((s) => soxSources(e).includes(s.name)) };
        return problems.length ? fail(problems.join('; '), evidence) : pass(`every source of ${systems.length} sox systems is scheduled within its RPO`, evidence);
      },
    },
    {
      id: 'BR-02',
      title: 'Backup failures are detected and resolved',
      area: 'backup',
      severity: 'high',
      remediation: 'Find why backups fail (bkdr backup status) and fix it; a failed run must be followed by a good one within a day.',
      evaluate(e, s) {
        const runs = within(backupRuns(e), s['successWindowDays']!, e.now, (r) => r.startedAt).filter((r) => r.status !== 'running');
        if (Object.keys(e.config.sources ?? {}).length === 0) return notApplicable('no source is configured');
        if (runs.length === 0) return fail(`no backup ran in the last ${s['successWindowDays']} days`, { runs: 0 });
        const succeeded = runs.filter((r) => r.status === 'succeeded').length;
        const percent = (succeeded / runs.length) * 100;
        const graceMs = s['failureResolvedHours']! * 3_600_000;
        // A failure is resolved by a later success of the same source within the grace period; one younger than that is still pending.
        const unresolved = runs.filter(
          (f) =>
            FAILED.has(f.status) &&
            e.now.getTime() - Date.parse(f.startedAt) > graceMs &&
            !runs.some((r) => r.status === 'succeeded' && r.source === f.source && r.startedAt > f.startedAt && Date.parse(r.startedAt) - Date.parse(f.startedAt) <= graceMs),
        );
        const evidence = {
          runs: runs.length,
          succeeded,
          successPercent: Math.round(percent * 10) / 10,
          unresolvedFailures: unresolved.map((r) => ({ runId: r.id, source: r.source, at: r.startedAt })),
        };
        if (percent < s['successPercent']!) return fail(`${succeeded} of ${runs.length} backup runs succeeded (${evidence.successPercent} %, below ${s['successPercent']} %)`, evidence);
        if (unresolved.length) return fail(`${unresolved.length} failed runs were not followed by a success within ${s['failureResolvedHours']} h`, evidence);
        return pass(`${succeeded} of ${runs.length} backup runs succeeded (${evidence.successPercent} %); every failure was resolved`, evidence);
      },
    },
    {
      id: 'BR-03',
      title: 'Backups are verified',
      area: 'backup',
      severity: 'medium',
      remediation: 'Schedule `bkdr backup verify` so every destination is verified at least weekly.',
      evaluate(e, s) {
        const days = s['verifyWithinDays']!;
        const verifies = within(
          e.runs.filter((r) => r.kind === 'verify'),
          days,
          e.now,
          (r) => r.finishedAt,
        );
        const clean = new Map<string, string>();
        for (const r of verifies) {
          const destinations = (r.summary as { destinations?: { destination: string; damaged: boolean }[] } | null)?.destinations ?? [];
          for (const d of destinations) if (!d.damaged && !clean.has(d.destination)) clean.set(d.destination, r.finishedAt!);
        }
        const missing = e.destinations.filter((d) => !clean.has(d.name)).map((d) => d.name);
        const evidence = { withinDays: days, lastCleanVerify: Object.fromEntries(clean), missing };
        return missing.length ? fail(`no clean verify within ${days} days of ${missing.join(', ')}`, evidence) : pass(`every destination verified clean within ${days} days`, evidence);
      },
    },
    {
      id: 'BR-04',
      title: 'Restores are tested',
      area: 'testing',
      severity: 'high',
      remediation: 'Run `bkdr backup verify --test-restore` (or a DR test with a restore step) at least quarterly.',
      evaluate(e, s) {
        const days = s['testRestoreWithinDays']!;
        const recent = within(e.testRestores, days, e.now, (t) => t.at).filter((t) => t.ok);
        const evidence = { withinDays: days, successfulTestRestores: recent.length, last: recent[0] ?? null };
        return recent.length
          ? pass(`${recent.length} successful test restores within ${days} days, the last at ${recent[0]!.at}`, evidence)
          : fail(`no successful test restore within ${days} days`, evidence);
      },
    },
    {
      id: 'BR-05',
      title: 'Backups of in-scope data are encrypted',
      area: 'protection',
      severity: 'critical',
      remediation: 'Turn encryption on for every destination that holds backups of sox-tagged systems.',
      evaluate(e) {
        const sources = soxSources(e);
        if (soxSystems(e).length === 0) return notApplicable('no system is tagged sox');
        const holding = new Set(e.backups.filter((b) => sources.includes(b.source)).map((b) => b.destination));
        const destinations = holding.size ? e.destinations.filter((d) => holding.has(d.name)) : e.destinations;
        const plain = destinations.filter((d) => !d.encrypted).map((d) => d.name);
        const evidence = { destinations: destinations.map((d) => ({ name: d.name, encrypted: d.encrypted })) };
        return plain.length ? fail(`not encrypted: ${plain.join(', ')}`, evidence) : pass(`all ${destinations.length} destinations holding sox data are encrypted`, evidence);
      },
    },
    {
      id: 'BR-06',
      title: 'A copy of in-scope data is held offsite',
      area: 'protection',
      severity: 'high',
      remediation: 'Back up (or `bkdr backup copy`) every sox source to a destination that is not on the same site.',
      evaluate(e) {
        const sources = soxSources(e);
        if (soxSystems(e).length === 0) return notApplicable('no system is tagged sox');
        const offsite = new Set(e.destinations.filter((d) => d.offsite).map((d) => d.name));
        const without = sources.filter((src) => !e.backups.some((b) => b.source === src && offsite.has(b.destination)));
        const evidence = { sources, offsiteDestinations: [...offsite], withoutOffsiteCopy: without };
        return without.length ? fail(`no offsite copy of ${without.join(', ')}`, evidence) : pass(`every sox source has a copy offsite`, evidence);
      },
    },
    {
      id: 'BR-07',
      title: 'Changes are attributable and the record is tamper-evident',
      area: 'governance',
      severity: 'critical',
      remediation: 'Investigate the audit chain (`bkdr audit verify`) and restore the catalog that holds the intact history.',
      evaluate(e) {
        const anonymous = e.audit.entries.filter((a) => !a.actor).length;
        const chain = e.audit.chain;
        const evidence = { entries: e.audit.entries.length, withoutActor: anonymous, chain };
        if (!chain.ok) return fail(`the audit chain is broken at row ${chain.firstBrokenSeq} (${chain.reason})`, evidence);
        if (chain.historyLost) return fail(`the audit history before ${chain.historyLost.since} was lost: ${chain.historyLost.reason}`, evidence);
        if (anonymous) return fail(`${anonymous} audit entries name no actor`, evidence);
        return pass(`${e.audit.entries.length} audit entries, each with an actor; the chain verifies`, evidence);
      },
    },
    {
      id: 'BR-08',
      title: 'Destructive operations follow policy or are approved',
      area: 'governance',
      severity: 'high',
      remediation: 'Prune only by the configured retention; a forced prune must record who confirmed it.',
      evaluate(e) {
        const destructive = e.audit.entries.filter((a) => (a.action === 'backup.prune' && Array.isArray(a.payload['forgotten']) && a.payload['forgotten'].length > 0) || a.action === 'key.remove');
        // A prune under the configured retention is approved by that policy; one forced past its safety needs a named confirmation.
        const unapproved = destructive.filter((a) => a.payload['forced'] === true && typeof a.payload['confirmedBy'] !== 'string');
        const evidence = { destructive: destructive.map((a) => ({ seq: a.seq, action: a.action, actor: a.actor, time: a.time })), unapproved: unapproved.map((a) => a.seq) };
        return unapproved.length
          ? fail(`${unapproved.length} destructive operations went past the retention policy without a recorded confirmation`, evidence)
          : pass(`${destructive.length} destructive operations, each under the retention policy or confirmed`, evidence);
      },
    },
  ],
};
