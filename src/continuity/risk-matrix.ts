/**
 * The 5 × 5 risk matrix of CONTINUITY.md "Risk register", as ISO 27005 libraries use it.
 * It is not symmetric (almost certain × minor is medium, unlikely × catastrophic is low)
 * and not a function of likelihood × impact, so it is kept as the table itself.
 */

export type RiskScore = 1 | 2 | 3 | 4 | 5;
export type RiskLevel = 0 | 1 | 2 | 3 | 4;
export type RiskLevelName = 'very low' | 'low' | 'medium' | 'high' | 'very high';

/** grid[likelihood − 1][impact − 1] */
export const RISK_GRID: readonly (readonly RiskLevel[])[] = [
  [0, 0, 1, 1, 1],
  [0, 1, 1, 2, 2],
  [1, 1, 2, 3, 3],
  [1, 2, 3, 3, 4],
  [2, 3, 3, 4, 4],
];

export const RISK_LEVEL_NAMES: readonly RiskLevelName[] = ['very low', 'low', 'medium', 'high', 'very high'];
export const LIKELIHOOD_NAMES: readonly string[] = ['unlikely', 'rather unlikely', 'likely', 'very likely', 'almost certain'];
export const IMPACT_NAMES: readonly string[] = ['minor', 'significant', 'serious', 'critical', 'catastrophic'];

export function isRiskScore(n: unknown): n is RiskScore {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 5;
}

function assertScore(n: number, what: string): asserts n is RiskScore {
  if (!isRiskScore(n)) throw new RangeError(`${what} must be an integer from 1 to 5, not ${n}`);
}

export function riskLevel(likelihood: number, impact: number): { level: RiskLevel; name: RiskLevelName } {
  assertScore(likelihood, 'likelihood');
  assertScore(impact, 'impact');
  const level = RISK_GRID[likelihood - 1]![impact - 1]!;
  return { level, name: RISK_LEVEL_NAMES[level]! };
}

export function likelihoodName(likelihood: number): string {
  assertScore(likelihood, 'likelihood');
  return LIKELIHOOD_NAMES[likelihood - 1]!;
}

export function impactName(impact: number): string {
  assertScore(impact, 'impact');
  return IMPACT_NAMES[impact - 1]!;
}

export interface ScoredRisk {
  likelihood?: number | null | undefined;
  impact?: number | null | undefined;
  residualLikelihood?: number | null | undefined;
  residualImpact?: number | null | undefined;
  status?: 'open' | 'closed' | null | undefined;
}

/** The level after treatment; a residual score that is not set stays as assessed, so only one of the two may be given. */
export function residualRiskLevel(risk: ScoredRisk): { level: RiskLevel; name: RiskLevelName } | null {
  if (risk.residualLikelihood == null && risk.residualImpact == null) return null;
  const likelihood = risk.residualLikelihood ?? risk.likelihood;
  const impact = risk.residualImpact ?? risk.impact;
  if (likelihood == null || impact == null) return null;
  return riskLevel(likelihood, impact);
}

export interface RiskExposure {
  /** Σ likelihood × impact over open risks. */
  score: number;
  byLevel: Record<RiskLevelName, number>;
  /** Open risks without a likelihood or impact: they add nothing to the score, which would otherwise look better than it is. */
  unscored: number;
}

/** The dashboard's risk exposure: a risk without a status is open. */
export function riskExposure(risks: readonly ScoredRisk[]): RiskExposure {
  const byLevel = Object.fromEntries(RISK_LEVEL_NAMES.map((n) => [n, 0])) as Record<RiskLevelName, number>;
  let score = 0;
  let unscored = 0;
  for (const r of risks) {
    if (r.status === 'closed') continue;
    if (r.likelihood == null || r.impact == null) {
      unscored++;
      continue;
    }
    score += r.likelihood * r.impact;
    byLevel[riskLevel(r.likelihood, r.impact).name]++;
  }
  return { score, byLevel, unscored };
}
