/**
 * The executive dashboard (CLI.md `bc dashboard --json`) as a plain model: src/continuity
 * measures it, the renderings here and in src/cli draw it. The types live in this layer
 * because src/report sits below src/continuity (DESIGN.md "Layers"): continuity imports
 * them, never the other way round, so the KPI and risk shapes are restated structurally.
 *
 * Every figure is measured from the catalog and the config; one with nothing to rest on
 * is null, never a made-up 100. Durations are SECONDS, percentages 0–100.
 */

export type DashboardKpiStatus = 'ok' | 'warning' | 'critical' | 'no-data';

/** A KPI as `bc kpi --json` gives it (src/continuity/kpis.ts `Kpi` fits this shape). */
export interface DashboardKpi {
  name: string;
  value: number | null;
  unit: string;
  direction: 'higher-better' | 'lower-better';
  target: number;
  warning: number;
  critical: number;
  status: DashboardKpiStatus;
  samples: number;
  detail: string;
}

export interface DashboardSummaryMetrics {
  /** system_availability over 30 days, %; null without health-check samples. */
  overallAvailability: number | null;
  /** Share of critical systems ready (CONTINUITY.md "Readiness"), %; null without critical systems. */
  businessContinuityReadiness: number | null;
  /** Mean of the latest score per framework, %; null before the first assessment. */
  complianceScore: number | null;
  /** Σ likelihood × impact over open scored risks; 0 with none. */
  riskExposure: number;
  /** backup_success_rate over 30 days, %; null without finished backup runs. */
  backupSuccessRate: number | null;
  openIncidents: number;
  /** Open incidents touching personal data: each runs GDPR art. 33's 72-hour notification clock. */
  gdprClocksOpen: number;
  /** KPIs whose status is critical. */
  criticalKpis: number;
}

export interface DashboardFramework {
  framework: string;
  /** The latest assessment's score, %. */
  score: number;
  at: string;
  /** Controls that assessment failed. */
  failed: number;
}

export interface DashboardRisk {
  id: string;
  title: string;
  likelihood: number;
  impact: number;
  /** likelihood × impact, what the exposure sums. */
  score: number;
  levelName: string;
  owner: string | null;
  treatment: string | null;
}

export interface DashboardRisks {
  exposure: { score: number; byLevel: Record<string, number>; unscored: number };
  /** heatMap[likelihood − 1][impact − 1]: how many open scored risks sit in each cell. */
  heatMap: number[][];
  /** levels[likelihood − 1][impact − 1]: the matrix's level of each cell, 0 very low … 4 very high (CONTINUITY.md), to colour the heat map. */
  levels: number[][];
  /** The five open risks with the highest likelihood × impact. */
  top: DashboardRisk[];
}

export interface DashboardObjective {
  target: number | null;
  achieved: number | null;
  met: boolean | null;
}

export interface DashboardExecution {
  id: string;
  scenarioId: string;
  status: string;
  startedAt: string;
  rto: DashboardObjective;
  rpo: DashboardObjective;
}

export interface DashboardBackupDay {
  /** YYYY-MM-DD, UTC. */
  day: string;
  succeeded: number;
  failed: number;
}

/** Why each critical system counts as ready or not, so the readiness figure can be checked by hand. */
export interface DashboardReadinessSystem {
  name: string;
  ready: boolean;
  /** Empty when ready; otherwise one plain sentence per unmet condition. */
  reasons: string[];
}

export interface DashboardModel {
  generatedAt: string;
  summaryMetrics: DashboardSummaryMetrics;
  kpis: DashboardKpi[];
  frameworks: DashboardFramework[];
  risks: DashboardRisks;
  recentExecutions: DashboardExecution[];
  /** The last 30 UTC days, oldest first, today included. */
  backupRunsByDay: DashboardBackupDay[];
  readiness: { systems: DashboardReadinessSystem[] };
}

/** The headline figures, in the order the renderings show them. */
export const SUMMARY_METRIC_LABELS: Record<keyof DashboardSummaryMetrics, string> = {
  overallAvailability: 'availability',
  businessContinuityReadiness: 'BC readiness',
  complianceScore: 'compliance',
  riskExposure: 'risk exposure',
  backupSuccessRate: 'backup success',
  openIncidents: 'open incidents',
  gdprClocksOpen: 'GDPR clocks open',
  criticalKpis: 'critical KPIs',
};

const PERCENT_METRICS: ReadonlySet<keyof DashboardSummaryMetrics> = new Set(['overallAvailability', 'businessContinuityReadiness', 'complianceScore', 'backupSuccessRate']);

/** `99.5 %`, `12`, `no data`: one spelling for the terminal and the HTML page, so a test can compare them with --json. */
export function formatSummaryMetric(key: keyof DashboardSummaryMetrics, value: number | null): string {
  if (value === null) return 'no data';
  return PERCENT_METRICS.has(key) ? `${value.toFixed(1)} %` : String(value);
}
