import { isDrTest } from '../../../catalog/dr-executions-table.js';
import { fail, type Framework, notApplicable, pass } from '../framework.js';
import { type Evidence, within } from '../evidence.js';

/**
 * NIST CSF 2.0 outcomes bkdr can show from its own records (CONTINUITY.md): data
 * security (PR.DS), recovery plan execution (RC.RP) and improvement (ID.IM). The
 * titles paraphrase the outcomes; the rules are bkdr's reading of them.
 */

const CRITICALITY_RANK: Record<string, number> = { critical: 4, high: 3, medium: 2, low: 1 };
/** Step types that check a restored system rather than change it. */
const CHECK_TYPES = new Set(['sql', 'http', 'tcp', 'command']);
const ACTIVE = new Set(['running', 'waiting-approval']);
const ENDED = new Set(['succeeded', 'failed', 'rolled-back']);

/** Each destination's newest clean verify within the window (as SOX BR-03 reads it). */
function cleanVerifies(e: Evidence, days: number): Map<string, string> {
  const clean = new Map<string, string>();
  const verifies = within(
    e.runs.filter((r) => r.kind === 'verify'),
    days,
    e.now,
    (r) => r.finishedAt,
  );
  for (const r of verifies) {
    const destinations = (r.summary as { destinations?: { destination: string; damaged: boolean }[] } | null)?.destinations ?? [];
    for (const d of destinations) if (!d.damaged && !clean.has(d.destination)) clean.set(d.destination, r.finishedAt!);
  }
  return clean;
}

/** The systems a plan brings back: those whose sources its restore steps restore. Plans name no systems, so this is the only link. */
function planSystems(e: Evidence, planId: string): string[] {
  const restored = new Set((e.plans.get(planId)?.steps ?? []).flatMap((s) => (s.type === 'restore' ? [s.source] : [])));
  return e.systems.filter((s) => (s.sources ?? []).some((src) => restored.has(src))).map((s) => s.name);
}

/** One ordering a scenario's plans must respect, and why. */
interface OrderRule {
  scenario: string;
  first: string;
  then: string;
  because: string;
}

/**
 * RC.RP-02's evidence: per scenario, the orderings the BIA asks of its plans. A plan
 * restoring a system another plan's system depends on must be a prerequisite (plan
 * `dependsOn`): priority alone orders only steps ready together, which may run in
 * parallel. A plan with more critical systems must not be ranked after one with less,
 * unless it waits for it through a dependency.
 */
function orderingRules(e: Evidence): { rules: OrderRule[]; violations: OrderRule[] } {
  const rules: OrderRule[] = [];
  const violations: OrderRule[] = [];
  const byName = new Map(e.systems.map((s) => [s.name, s]));
  for (const scenario of e.scenarios) {
    const entries = scenario.recoveryPlans.map((p, i) => ({ planId: p.planId, rank: [p.priority ?? i + 1, i] as const, dependsOn: p.dependsOn ?? [], systems: planSystems(e, p.planId) }));
    const waitsFor = (planId: string, other: string, seen = new Set<string>()): boolean => {
      if (seen.has(planId)) return false;
      seen.add(planId);
      const deps = entries.find((x) => x.planId === planId)?.dependsOn ?? [];
      return deps.includes(other) || deps.some((d) => waitsFor(d, other, seen));
    };
    const before = (a: (typeof entries)[number], b: (typeof entries)[number]) => a.rank[0] < b.rank[0] || (a.rank[0] === b.rank[0] && a.rank[1] < b.rank[1]);
    const level = (systems: string[]) => Math.max(0, ...systems.map((n) => CRITICALITY_RANK[byName.get(n)?.criticality ?? ''] ?? 0));
    for (const a of entries) {
      for (const b of entries) {
        if (a.planId === b.planId) continue;
        // a's systems depend on b's: b must finish first.
        const needed = a.systems.flatMap((n) => (byName.get(n)?.dependencies ?? []).filter((d) => b.systems.includes(d) && !a.systems.includes(d)).map((d) => `${n} depends on ${d}`));
        if (needed.length) {
          const rule = { scenario: scenario.id, first: b.planId, then: a.planId, because: needed.join(', ') };
          rules.push(rule);
          if (!waitsFor(a.planId, b.planId)) violations.push(rule);
        } else if (level(a.systems) > level(b.systems) && level(b.systems) > 0 && !waitsFor(a.planId, b.planId)) {
          const rule = {
            scenario: scenario.id,
            first: a.planId,
            then: b.planId,
            because: `${a.planId} restores more critical systems (${a.systems.join(', ')}) than ${b.planId} (${b.systems.join(', ')})`,
          };
          rules.push(rule);
          if (!before(a, b)) violations.push(rule);
        }
      }
    }
  }
  return { rules, violations };
}

export const nistCsf: Framework = {
  id: 'NIST-CSF',
  name: 'NIST Cybersecurity Framework: data security, recovery and improvement',
  basis: 'NIST Cybersecurity Framework 2.0 (PR.DS-01, PR.DS-11, RC.RP-01..06, ID.IM-02)',
  defaults: { testRestoreWithinDays: 30, verifyWithinDays: 7 },
  controls: [
    {
      id: 'PR.DS-11',
      title: 'Backups are made, kept protected and tested',
      area: 'backup',
      severity: 'high',
      remediation: 'Schedule every source, encrypt every destination, and run a test restore (`bkdr backup verify --test-restore`) at least monthly.',
      evaluate(e, s) {
        if (e.sources.length === 0) return notApplicable('no source is configured');
        const days = s['testRestoreWithinDays']!;
        const unscheduled = e.sources.filter((src) => src.scheduleIntervalMs === null).map((src) => src.name);
        const plain = e.destinations.filter((d) => !d.encrypted).map((d) => d.name);
        const tested = within(e.testRestores, days, e.now, (t) => t.at).filter((t) => t.ok);
        const evidence = { unscheduled, unencrypted: plain, withinDays: days, successfulTestRestores: tested.length, lastTestRestore: tested[0]?.at ?? null };
        const problems = [
          ...(unscheduled.length ? [`no schedule for ${unscheduled.join(', ')}`] : []),
          ...(plain.length ? [`not encrypted: ${plain.join(', ')}`] : []),
          ...(tested.length ? [] : [`no successful test restore within ${days} days`]),
        ];
        return problems.length
          ? fail(problems.join('; '), evidence)
          : pass(`${e.sources.length} sources scheduled, ${e.destinations.length} destinations encrypted, last test restore at ${tested[0]!.at}`, evidence);
      },
    },
    {
      id: 'PR.DS-01',
      title: 'Stored data is kept confidential and intact',
      area: 'protection',
      severity: 'critical',
      remediation: 'Turn encryption on for every destination.',
      evaluate(e) {
        if (e.destinations.length === 0) return notApplicable('no destination is configured');
        const plain = e.destinations.filter((d) => !d.encrypted).map((d) => d.name);
        const evidence = { destinations: e.destinations.map((d) => ({ name: d.name, encrypted: d.encrypted })) };
        return plain.length
          ? fail(`${plain.length} of ${e.destinations.length} destinations are not encrypted: ${plain.join(', ')}`, evidence)
          : pass(`all ${e.destinations.length} destinations are encrypted`, evidence);
      },
    },
    {
      id: 'RC.RP-01',
      title: 'The recovery plan can be carried out',
      area: 'recovery',
      severity: 'high',
      remediation: 'Dry-run every scenario (`bkdr dr trigger <scenario> --dry-run`) and fix what its preflight reports.',
      evaluate(e) {
        if (e.scenarios.length === 0) return notApplicable('no DR scenario is configured');
        // Only the newest dry run counts: a problem fixed since is fixed, one introduced since is not.
        const newest = new Map<string, (typeof e.dryRuns)[number]>();
        for (const d of e.dryRuns) if (!newest.has(d.scenarioId)) newest.set(d.scenarioId, d);
        const never = e.scenarios.filter((sc) => !newest.has(sc.id)).map((sc) => sc.id);
        const problems = e.scenarios.filter((sc) => {
          const d = newest.get(sc.id);
          return d !== undefined && (d.status !== 'planned' || d.error !== null);
        });
        const evidence = {
          scenarios: e.scenarios.map((sc) => sc.id),
          newestDryRun: Object.fromEntries([...newest].map(([id, d]) => [id, { executionId: d.id, at: d.startedAt, status: d.status, error: d.error }])),
          neverDryRun: never,
          withProblems: problems.map((sc) => sc.id),
        };
        const reasons = [
          ...(never.length ? [`never dry-run: ${never.join(', ')}`] : []),
          ...(problems.length ? [`newest dry run found problems: ${problems.map((sc) => `${sc.id} (${newest.get(sc.id)!.error ?? newest.get(sc.id)!.status})`).join(', ')}`] : []),
        ];
        return reasons.length ? fail(reasons.join('; '), evidence) : pass(`the newest dry run of each of ${e.scenarios.length} scenarios is clean`, evidence);
      },
    },
    {
      id: 'RC.RP-02',
      title: 'Recovery actions are ordered by what matters most and what depends on what',
      area: 'recovery',
      severity: 'medium',
      remediation: 'Make a plan depend on the plans that restore the systems its systems need, and give plans of more critical systems a lower priority number.',
      evaluate(e) {
        const { rules, violations } = orderingRules(e);
        const evidence = { rules, violations };
        if (rules.length === 0)
          return notApplicable(
            'no scenario has two plans whose restored systems differ in criticality or depend on each other (a plan is linked to the systems whose sources its restore steps restore)',
            evidence,
          );
        return violations.length
          ? fail(violations.map((v) => `${v.scenario}: ${v.first} should come before ${v.then} (${v.because})`).join('; '), evidence)
          : pass(`${rules.length} orderings the BIA asks of the plans are respected`, evidence);
      },
    },
    {
      id: 'RC.RP-03',
      title: 'Backups are checked for integrity before they are restored',
      area: 'recovery',
      severity: 'high',
      remediation: 'Verify every destination at least weekly (`bkdr backup verify`) and set `verify: true` on every restore step of the recovery plans.',
      evaluate(e, s) {
        const days = s['verifyWithinDays']!;
        const clean = cleanVerifies(e, days);
        const unverified = e.destinations.filter((d) => !clean.has(d.name)).map((d) => d.name);
        const restoresWithoutVerify = [...e.plans].flatMap(([planId, plan]) => plan.steps.filter((st) => st.type === 'restore' && st.verify !== true).map((st) => `${planId}/${st.id}`));
        const evidence = { withinDays: days, lastCleanVerify: Object.fromEntries(clean), unverified, restoresWithoutVerify };
        const problems = [
          ...(unverified.length ? [`no clean verify within ${days} days of ${unverified.join(', ')}`] : []),
          ...(restoresWithoutVerify.length ? [`restore steps without verify: ${restoresWithoutVerify.join(', ')}`] : []),
        ];
        return problems.length ? fail(problems.join('; '), evidence) : pass(`every destination verified clean within ${days} days; every restore step in the plans verifies`, evidence);
      },
    },
    {
      id: 'RC.RP-05',
      title: 'Restored systems are checked before they are trusted',
      area: 'recovery',
      severity: 'medium',
      remediation: 'Add sql, http, tcp or command check steps after each restore step, and find why the failed ones did not pass.',
      evaluate(e) {
        const last = e.executions.find((x) => x.endedAt !== null && ENDED.has(x.status));
        if (!last) return notApplicable('no recovery or DR test has ended yet');
        // A check is a probe after a restore of the same plan: before it, there is nothing restored to check.
        const restoredAt = new Map<string, number>();
        const checks = last.steps.filter((st, i) => {
          if (st.type === 'restore' && !restoredAt.has(st.planId)) restoredAt.set(st.planId, i);
          return CHECK_TYPES.has(st.type) && restoredAt.has(st.planId);
        });
        const notPassed = checks.filter((st) => st.status !== 'succeeded');
        const evidence = { executionId: last.id, scenario: last.scenarioId, endedAt: last.endedAt, checks: checks.map((st) => ({ id: st.id, type: st.type, status: st.status })) };
        if (checks.length === 0) return fail(`execution ${last.id} (${last.scenarioId}) ran no check step after a restore`, evidence);
        return notPassed.length
          ? fail(`execution ${last.id} (${last.scenarioId}): ${notPassed.map((st) => `${st.id} ${st.status}`).join(', ')}`, evidence)
          : pass(`all ${checks.length} check steps of execution ${last.id} (${last.scenarioId}) passed`, evidence);
      },
    },
    {
      id: 'RC.RP-06',
      title: 'The end of a recovery is declared and recorded',
      area: 'recovery',
      severity: 'medium',
      remediation: 'Resume (`bkdr dr resume`) or finish every interrupted execution so it ends with a status and an end time.',
      evaluate(e) {
        // One still running has not ended yet; it is not a recovery left undeclared.
        const settled = e.executions.filter((x) => !ACTIVE.has(x.status));
        if (settled.length === 0) return notApplicable('no recovery or DR test has been run', { active: e.executions.length });
        const open = settled.filter((x) => !ENDED.has(x.status) || x.endedAt === null);
        const evidence = {
          executions: settled.length,
          active: e.executions.length - settled.length,
          undeclared: open.map((x) => ({ executionId: x.id, scenario: x.scenarioId, status: x.status, endedAt: x.endedAt })),
        };
        return open.length
          ? fail(`${open.length} of ${settled.length} executions never ended with a status and time: ${open.map((x) => `${x.id} (${x.status})`).join(', ')}`, evidence)
          : pass(`all ${settled.length} executions ended with a status and an end time`, evidence);
      },
    },
    {
      id: 'ID.IM-02',
      title: 'Failed recovery tests lead to changes in the plans',
      area: 'governance',
      severity: 'medium',
      remediation: 'After a failed DR test, change the plan or the config and record it (bkdr audits `config.*` and `dr.plan*` actions).',
      evaluate(e) {
        const failed = e.executions.filter((x) => isDrTest(x) && (x.status === 'failed' || x.status === 'rolled-back'));
        if (failed.length === 0) return notApplicable('no DR test has failed');
        const changes = e.audit.entries.filter((a) => a.action.startsWith('config.') || a.action.startsWith('dr.plan'));
        // A change counts for a test when it was recorded after the test ended.
        const unanswered = failed.filter((x) => !changes.some((a) => a.time > (x.endedAt ?? x.startedAt)));
        const evidence = {
          failedTests: failed.map((x) => ({ executionId: x.id, scenario: x.scenarioId, endedAt: x.endedAt })),
          changes: changes.map((a) => ({ seq: a.seq, action: a.action, time: a.time })),
          unanswered: unanswered.map((x) => x.id),
        };
        return unanswered.length
          ? fail(`no config or plan change recorded after ${unanswered.length} of ${failed.length} failed DR tests: ${unanswered.map((x) => `${x.id} (${x.scenarioId})`).join(', ')}`, evidence)
          : pass(`a config or plan change was recorded after each of ${failed.length} failed DR tests`, evidence);
      },
    },
  ],
};
