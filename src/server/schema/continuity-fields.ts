import type { AssessedControl, AssessmentRecord } from '../../catalog/assessments-table.js';
import type { AssessmentResult, DashboardModel, RegisterRisk } from '../../continuity/business-continuity-manager.js';
import type { DashboardExecution, DashboardFramework, DashboardKpi, DashboardObjective, DashboardReadinessSystem, DashboardRisk } from '../../report/dashboard-model.js';
import type { BkdrBuilder, BkdrSchemaTypes, SchemaDeps } from './schema-types.js';

type Finding = AssessmentResult['findings'][number];

/** The continuity service's part of the schema: the executive dashboard, KPIs, risks, assessments, `conductComplianceAssessment`. */
export function addContinuityFields(b: BkdrBuilder, deps: SchemaDeps): void {
  const { continuityManager } = deps.services;

  const Kpi = b.objectRef<DashboardKpi>('Kpi').implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      value: t.exposeFloat('value', { nullable: true }),
      unit: t.exposeString('unit'),
      direction: t.exposeString('direction'),
      target: t.exposeFloat('target'),
      warning: t.exposeFloat('warning'),
      critical: t.exposeFloat('critical'),
      status: t.exposeString('status', { description: 'ok | warning | critical | no-data' }),
      samples: t.exposeInt('samples'),
      detail: t.exposeString('detail'),
    }),
  });
  const SummaryMetrics = b.objectRef<DashboardModel['summaryMetrics']>('SummaryMetrics').implement({
    description: 'Percentages are 0 to 100; a figure with nothing to rest on is null.',
    fields: (t) => ({
      overallAvailability: t.exposeFloat('overallAvailability', { nullable: true }),
      businessContinuityReadiness: t.exposeFloat('businessContinuityReadiness', { nullable: true }),
      complianceScore: t.exposeFloat('complianceScore', { nullable: true }),
      riskExposure: t.exposeFloat('riskExposure'),
      backupSuccessRate: t.exposeFloat('backupSuccessRate', { nullable: true }),
      openIncidents: t.exposeInt('openIncidents'),
      gdprClocksOpen: t.exposeInt('gdprClocksOpen'),
      criticalKpis: t.exposeInt('criticalKpis'),
    }),
  });
  const FrameworkScore = b.objectRef<DashboardFramework>('FrameworkScore').implement({
    fields: (t) => ({ framework: t.exposeString('framework'), score: t.exposeFloat('score'), at: t.field({ type: 'DateTime', resolve: (f) => f.at }), failed: t.exposeInt('failed') }),
  });
  const TopRisk = b.objectRef<DashboardRisk>('TopRisk').implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      title: t.exposeString('title'),
      likelihood: t.exposeInt('likelihood'),
      impact: t.exposeInt('impact'),
      score: t.exposeInt('score'),
      levelName: t.exposeString('levelName'),
      owner: t.exposeString('owner', { nullable: true }),
      treatment: t.exposeString('treatment', { nullable: true }),
    }),
  });
  const RiskSummary = b.objectRef<DashboardModel['risks']>('RiskSummary').implement({
    fields: (t) => ({
      exposure: t.float({ resolve: (r) => r.exposure.score }),
      byLevel: t.field({ type: 'JSON', resolve: (r) => r.exposure.byLevel }),
      heatMap: t.field({ type: 'JSON', description: 'heatMap[likelihood − 1][impact − 1]: open scored risks per cell.', resolve: (r) => r.heatMap }),
      top: t.field({ type: [TopRisk], resolve: (r) => r.top }),
    }),
  });
  const DashboardObjectiveRef = b.objectRef<DashboardObjective>('DashboardObjective').implement({
    fields: (t) => ({ target: t.exposeFloat('target', { nullable: true }), achieved: t.exposeFloat('achieved', { nullable: true }), met: t.exposeBoolean('met', { nullable: true }) }),
  });
  const RecentExecution = b.objectRef<DashboardExecution>('RecentExecution').implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      scenarioId: t.exposeString('scenarioId'),
      status: t.exposeString('status'),
      startedAt: t.field({ type: 'DateTime', resolve: (e) => e.startedAt }),
      rto: t.field({ type: DashboardObjectiveRef, resolve: (e) => e.rto }),
      rpo: t.field({ type: DashboardObjectiveRef, resolve: (e) => e.rpo }),
    }),
  });
  const BackupDay = b.objectRef<DashboardModel['backupRunsByDay'][number]>('BackupDay').implement({
    fields: (t) => ({ day: t.exposeString('day'), succeeded: t.exposeInt('succeeded'), failed: t.exposeInt('failed') }),
  });
  const SystemReadiness = b.objectRef<DashboardReadinessSystem>('SystemReadiness').implement({
    fields: (t) => ({ name: t.exposeString('name'), ready: t.exposeBoolean('ready'), reasons: t.exposeStringList('reasons') }),
  });
  const ExecutiveDashboard = b.objectRef<DashboardModel>('ExecutiveDashboard').implement({
    description: 'What `bkdr bc dashboard --json` reports.',
    fields: (t) => ({
      generatedAt: t.field({ type: 'DateTime', resolve: (d) => d.generatedAt }),
      summaryMetrics: t.field({ type: SummaryMetrics, resolve: (d) => d.summaryMetrics }),
      kpis: t.field({ type: [Kpi], resolve: (d) => d.kpis }),
      frameworks: t.field({ type: [FrameworkScore], resolve: (d) => d.frameworks }),
      risks: t.field({ type: RiskSummary, resolve: (d) => d.risks }),
      recentExecutions: t.field({ type: [RecentExecution], resolve: (d) => d.recentExecutions }),
      backupRunsByDay: t.field({ type: [BackupDay], resolve: (d) => d.backupRunsByDay }),
      readiness: t.field({ type: [SystemReadiness], resolve: (d) => d.readiness.systems }),
    }),
  });
  const Control = b.objectRef<AssessedControl>('AssessedControl').implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      title: t.exposeString('title'),
      area: t.exposeString('area'),
      status: t.exposeString('status', { description: 'pass | fail | not-applicable' }),
      evidence: t.field({ type: 'JSON', resolve: (c) => c.evidence }),
      detail: t.exposeString('detail'),
    }),
  });
  const FindingRef = b.objectRef<Finding>('Finding').implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      controlId: t.exposeString('controlId'),
      severity: t.exposeString('severity'),
      title: t.exposeString('title'),
      remediation: t.exposeString('remediation'),
      dueDate: t.exposeString('dueDate'),
      detail: t.exposeString('detail'),
    }),
  });
  // Shared by a stored assessment and a new one (which adds its findings).
  const assessmentFields = (t: PothosSchemaTypes.ObjectFieldBuilder<BkdrSchemaTypes, AssessmentRecord>) => ({
    id: t.exposeString('id'),
    framework: t.exposeString('framework'),
    assessor: t.exposeString('assessor'),
    scope: t.exposeStringList('scope'),
    at: t.field({ type: 'DateTime', resolve: (a) => a.at }),
    overallCompliance: t.exposeFloat('overallCompliance', { description: 'Score, 0 to 100.' }),
    controls: t.field({ type: [Control], resolve: (a) => a.controls }),
  });
  const Assessment = b.objectRef<AssessmentRecord>('Assessment').implement({ fields: assessmentFields });
  const AssessmentOutcome = b.objectRef<AssessmentResult>('AssessmentOutcome').implement({
    description: 'A new assessment with its findings.',
    fields: (t) => ({ ...assessmentFields(t), findings: t.field({ type: [FindingRef], resolve: (a) => a.findings }) }),
  });
  const Risk = b.objectRef<RegisterRisk>('Risk').implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      title: t.exposeString('title'),
      description: t.exposeString('description', { nullable: true }),
      category: t.exposeString('category', { nullable: true }),
      likelihood: t.exposeInt('likelihood', { nullable: true }),
      impact: t.exposeInt('impact', { nullable: true }),
      levelName: t.exposeString('levelName', { nullable: true }),
      residualLevelName: t.exposeString('residualLevelName', { nullable: true }),
      owner: t.exposeString('owner', { nullable: true }),
      treatment: t.exposeString('treatment', { nullable: true }),
      mitigations: t.exposeStringList('mitigations'),
      systems: t.exposeStringList('systems'),
      status: t.exposeString('status'),
      source: t.exposeString('source', { description: 'config | catalog' }),
      reviewBy: t.exposeString('reviewBy', { nullable: true }),
      reviewOverdue: t.exposeBoolean('reviewOverdue'),
    }),
  });

  b.queryFields((t) => ({
    executiveDashboard: t.field({
      type: ExecutiveDashboard,
      resolve: async (_root, _args, ctx) => {
        await deps.guard(ctx, 'read', 'executiveDashboard');
        return continuityManager.generateExecutiveDashboard();
      },
    }),
    kpis: t.field({
      type: [Kpi],
      resolve: async (_root, _args, ctx) => {
        await deps.guard(ctx, 'read', 'kpis');
        return continuityManager.getKpis().kpis;
      },
    }),
    risks: t.field({
      type: [Risk],
      resolve: async (_root, _args, ctx) => {
        await deps.guard(ctx, 'read', 'risks');
        return continuityManager.getRiskRegister().risks;
      },
    }),
    assessments: t.field({
      type: [Assessment],
      args: { framework: t.arg.string(), limit: t.arg.int() },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'read', 'assessments');
        return continuityManager.listAssessments({ framework: args.framework ?? undefined, limit: args.limit ?? undefined });
      },
    }),
  }));

  b.mutationFields((t) => ({
    conductComplianceAssessment: t.field({
      type: AssessmentOutcome,
      description: 'Assesses a framework (SOX, ISO-22301, NIST-CSF, GDPR) from bkdr’s own records and stores the result.',
      args: { framework: t.arg.string({ required: true }), assessor: t.arg.string(), scope: t.arg.stringList() },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'operate', 'conductComplianceAssessment');
        return continuityManager.conductComplianceAssessment(args.framework, args.assessor ?? deps.who(ctx), args.scope ?? undefined);
      },
    }),
  }));
}
