import { type DrExecutionRecord, isDrTest } from '../../../catalog/dr-executions-table.js';
import { DAY_MS, fail, type Framework, notApplicable, pass } from '../framework.js';
import type { Evidence } from '../evidence.js';

/**
 * ISO 22301:2019 clauses 8 and 9, the parts bkdr keeps records of (CONTINUITY.md).
 * Control ids are the standard's clause numbers; titles paraphrase them.
 * "Critical" means `criticality: critical` on a system; a critical scenario is one
 * of severity critical or one covering a critical system.
 *
 * 8.2.2 and 8.2.3 fail on an empty BIA or risk register rather than not applying:
 * the clause asks for the analysis itself, and an empty one is evidence it was not
 * done. The others do not apply when there is nothing of their kind to judge.
 */

type DrSystem = Evidence['systems'][number];

const unique = <T>(items: T[]): T[] => [...new Set(items)];
const criticalSystems = (e: Evidence) => e.systems.filter((s) => s.criticality === 'critical');
/** Its own `scenarios` and those whose `affectedSystems` name it, as the BIA reads them. */
const scenariosOf = (e: Evidence, system: DrSystem) => unique([...(system.scenarios ?? []), ...e.scenarios.filter((sc) => sc.affectedSystems.includes(system.name)).map((sc) => sc.id)]);
const criticalScenarios = (e: Evidence) => unique([...e.scenarios.filter((sc) => sc.severity === 'critical').map((sc) => sc.id), ...criticalSystems(e).flatMap((s) => scenariosOf(e, s))]);
const ENDED = new Set<DrExecutionRecord['status']>(['succeeded', 'failed', 'rolled-back']);
const minutes = (ms: number) => `${ms / 60_000} min`;

export const iso22301: Framework = {
  id: 'ISO-22301',
  name: 'ISO 22301 business continuity management: operation and performance evaluation',
  basis: 'ISO 22301:2019 clauses 8.2.2, 8.2.3, 8.3, 8.4.4, 8.4.5, 8.5, 8.6 and 9.1',
  defaults: { reviewWithinMonths: 12, treatFromLevel: 3, exerciseWithinDays: 90 },
  controls: [
    {
      id: '8.2.2',
      title: 'The impact of disruption is analysed: critical systems have recovery objectives within what the business tolerates, reviewed recently',
      area: 'governance',
      severity: 'high',
      remediation: 'Give every critical system an RTO, an RPO and an MTPD no shorter than the RTO, and record its review date (reviewedAt) at least yearly.',
      evaluate(e, s) {
        if (e.systems.length === 0) return fail('no system is described: there is no business impact analysis', { systems: 0 });
        const systems = criticalSystems(e);
        if (systems.length === 0) return notApplicable(`none of ${e.systems.length} systems is critical`, { systems: e.systems.length, critical: 0 });
        const months = s['reviewWithinMonths']!;
        const cutoff = new Date(e.now);
        cutoff.setUTCMonth(cutoff.getUTCMonth() - months);
        const problems: string[] = [];
        for (const sys of systems) {
          const missing = (['rto', 'rpo', 'mtpd'] as const).filter((k) => sys[k] === undefined);
          if (missing.length) problems.push(`${sys.name} has no ${missing.join(', ').toUpperCase()}`);
          if (sys.rto !== undefined && sys.mtpd !== undefined && sys.rto > sys.mtpd) problems.push(`${sys.name}'s RTO ${minutes(sys.rto)} exceeds its MTPD ${minutes(sys.mtpd)}`);
          if (!sys.reviewedAt) problems.push(`${sys.name} records no review`);
          else if (Date.parse(sys.reviewedAt) < cutoff.getTime()) problems.push(`${sys.name} was last reviewed on ${sys.reviewedAt.slice(0, 10)}, more than ${months} months ago`);
        }
        const evidence = {
          reviewedSince: cutoff.toISOString(),
          systems: systems.map((sys) => ({ name: sys.name, rtoMs: sys.rto ?? null, rpoMs: sys.rpo ?? null, mtpdMs: sys.mtpd ?? null, reviewedAt: sys.reviewedAt ?? null })),
        };
        return problems.length ? fail(problems.join('; '), evidence) : pass(`${systems.length} critical systems have RTO ≤ MTPD and an RPO, each reviewed within ${months} months`, evidence);
      },
    },
    {
      id: '8.2.3',
      title: 'Risks of disruption are assessed, and the serious ones are treated by someone',
      area: 'governance',
      severity: 'medium',
      remediation: 'Score every open risk (likelihood and impact) and give each high or very high one a treatment and an owner.',
      evaluate(e, s) {
        const open = e.risks.filter((r) => r.status === 'open');
        if (open.length === 0) return fail('the risk register holds no open risk: no risk assessment is recorded', { risks: 0 });
        const from = s['treatFromLevel']!;
        const unscored = open.filter((r) => r.level === null).map((r) => r.id);
        const untreated = open.filter((r) => r.level !== null && r.level >= from && (!r.treatment || !r.owner)).map((r) => r.id);
        const evidence = {
          risks: open.length,
          treatFromLevel: from,
          unscored,
          untreated,
          levels: Object.fromEntries(open.map((r) => [r.id, { level: r.level, treatment: r.treatment, owner: r.owner }])),
        };
        const problems = [
          ...(unscored.length ? [`not scored: ${unscored.join(', ')}`] : []),
          ...(untreated.length ? [`level ${from} or above without a treatment and an owner: ${untreated.join(', ')}`] : []),
        ];
        return problems.length ? fail(problems.join('; '), evidence) : pass(`${open.length} open risks scored; those at level ${from} or above have a treatment and an owner`, evidence);
      },
    },
    {
      id: '8.3',
      title: 'Continuity solutions exist: each critical system is backed up and has a scenario with a recovery plan',
      area: 'backup',
      severity: 'critical',
      remediation: 'Name a configured backup source for every critical system and cover it with a DR scenario whose recovery plans exist.',
      evaluate(e) {
        const systems = criticalSystems(e);
        if (systems.length === 0) return notApplicable('no system is critical');
        const configured = new Set(e.sources.map((src) => src.name));
        const problems: string[] = [];
        const coverage = systems.map((sys) => {
          const sources = (sys.sources ?? []).filter((name) => configured.has(name));
          // A scenario covers the system only if every plan it names is defined: a dangling plan id recovers nothing.
          const scenarios = scenariosOf(e, sys).filter((id) => {
            const sc = e.scenarios.find((x) => x.id === id);
            return sc !== undefined && sc.recoveryPlans.length > 0 && sc.recoveryPlans.every((p) => e.plans.has(p.planId));
          });
          if (sources.length === 0) problems.push(`${sys.name} has no configured backup source`);
          if (scenarios.length === 0) problems.push(`${sys.name} has no scenario with a defined recovery plan`);
          return { system: sys.name, sources, scenarios };
        });
        const evidence = { coverage };
        return problems.length ? fail(problems.join('; '), evidence) : pass(`${systems.length} critical systems each have a backup source and a scenario with a plan`, evidence);
      },
    },
    {
      id: '8.4.4',
      title: 'Recovery plans are documented: steps, an accountable owner and a way to warn people',
      area: 'recovery',
      severity: 'medium',
      remediation: 'Give every recovery plan an owner and a notify step.',
      evaluate(e) {
        if (e.plans.size === 0) return notApplicable('no recovery plan is configured');
        const plans = [...e.plans].map(([id, plan]) => ({ id, steps: plan.steps.length, owner: plan.owner ?? null, notify: plan.steps.some((st) => st.type === 'notify') }));
        const problems = plans.flatMap((p) => [...(p.steps === 0 ? [`${p.id} has no step`] : []), ...(p.owner ? [] : [`${p.id} has no owner`]), ...(p.notify ? [] : [`${p.id} has no notify step`])]);
        return problems.length ? fail(problems.join('; '), { plans }) : pass(`${plans.length} recovery plans each have steps, an owner and a notify step`, { plans });
      },
    },
    {
      id: '8.4.5',
      title: 'Recovery achieves its objectives: the last drill or incident of each scenario met its RTO and RPO',
      area: 'recovery',
      severity: 'high',
      remediation: 'Find why the last recovery failed or ran past its objectives (bkdr dr history), fix the plan, and test it again.',
      evaluate(e) {
        // Against today's scenario objectives, not those recorded at the time: a target tightened since must be met too.
        const last = e.scenarios.flatMap((sc) => {
          const x = e.executions.find((ex) => ex.scenarioId === sc.id && ENDED.has(ex.status));
          if (!x) return [];
          return [
            {
              scenario: sc.id,
              executionId: x.id,
              at: x.startedAt,
              kind: isDrTest(x) ? 'dr-test' : 'recovery',
              status: x.status,
              rto: { targetSeconds: sc.rto / 1000, achievedSeconds: x.rto.achievedSeconds },
              rpo: { targetSeconds: sc.rpo / 1000, achievedSeconds: x.rpo.achievedSeconds },
            },
          ];
        });
        if (last.length === 0) return notApplicable('no scenario has a drill or recovery that ended');
        const problems = last.flatMap((l) => [
          ...(l.status !== 'succeeded' ? [`${l.scenario}'s last ${l.kind} (${l.executionId.slice(0, 8)}) ended ${l.status}`] : []),
          ...(['rto', 'rpo'] as const)
            .filter((k) => l[k].achievedSeconds !== null && l[k].achievedSeconds > l[k].targetSeconds)
            .map((k) => `${l.scenario}'s last ${l.kind} achieved ${k.toUpperCase()} ${l[k].achievedSeconds} s, above its ${l[k].targetSeconds} s`),
        ]);
        const evidence = { last };
        return problems.length ? fail(problems.join('; '), evidence) : pass(`the last drill or recovery of ${last.length} scenarios met RTO and RPO`, evidence);
      },
    },
    {
      id: '8.5',
      title: 'Continuity arrangements are exercised regularly: each critical scenario tested recently',
      area: 'testing',
      severity: 'high',
      remediation: 'Schedule a DR test (drTests) of every critical scenario at least quarterly.',
      evaluate(e, s) {
        const scenarios = criticalScenarios(e);
        if (scenarios.length === 0) return notApplicable('no scenario is critical or covers a critical system');
        const days = s['exerciseWithinDays']!;
        const from = e.now.getTime() - days * DAY_MS;
        // An exercise counts whatever its verdict: that it was held is this clause; whether it met the objectives is 8.4.5's.
        const lastTest = scenarios.map((id) => {
          const x = e.executions.find((ex) => ex.scenarioId === id && isDrTest(ex) && ENDED.has(ex.status));
          return { scenario: id, lastTestAt: x ? (x.endedAt ?? x.startedAt) : null, status: x?.status ?? null };
        });
        const stale = lastTest.filter((t) => t.lastTestAt === null || Date.parse(t.lastTestAt) < from).map((t) => t.scenario);
        const evidence = { withinDays: days, since: new Date(from).toISOString(), lastTest, stale };
        return stale.length ? fail(`no DR test within ${days} days of ${stale.join(', ')}`, evidence) : pass(`${scenarios.length} critical scenarios each tested within ${days} days`, evidence);
      },
    },
    {
      id: '8.6',
      title: 'Shortcomings found by evaluations are corrected in time',
      area: 'governance',
      severity: 'medium',
      remediation: 'Resolve the overdue findings (bkdr compliance report lists them) and re-assess.',
      evaluate(e) {
        const today = e.now.toISOString().slice(0, 10);
        // Due on a date: overdue from the day after.
        const overdue = e.findings.filter((f) => f.dueDate < today);
        const evidence = { today, openFindings: e.findings.length, overdue: overdue.map((f) => ({ id: f.id, framework: f.framework, controlId: f.controlId, dueDate: f.dueDate })) };
        return overdue.length
          ? fail(`${overdue.length} of ${e.findings.length} open findings are past their due date`, evidence)
          : pass(`${e.findings.length} open findings, none past its due date`, evidence);
      },
    },
    {
      id: '9.1',
      title: 'Continuity performance is monitored and measured: every KPI has data and none is critical',
      area: 'governance',
      severity: 'medium',
      remediation: 'Collect the missing measurements (dr watch, verify, DR tests, assessments) and act on the critical KPIs (bkdr bc kpi).',
      evaluate(e) {
        const noData = e.kpis.filter((k) => k.status === 'no-data').map((k) => k.name);
        const critical = e.kpis.filter((k) => k.status === 'critical').map((k) => k.name);
        const evidence = { kpis: Object.fromEntries(e.kpis.map((k) => [k.name, { status: k.status, value: k.value, critical: k.critical }])), noData, critical };
        const problems = [...(noData.length ? [`no data: ${noData.join(', ')}`] : []), ...(critical.length ? [`critical: ${critical.join(', ')}`] : [])];
        return problems.length ? fail(problems.join('; '), evidence) : pass(`${e.kpis.length} KPIs measured, none critical`, evidence);
      },
    },
  ],
};
