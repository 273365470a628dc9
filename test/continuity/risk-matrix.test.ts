import { describe, expect, it } from 'vitest';
import { IMPACT_NAMES, LIKELIHOOD_NAMES, impactName, likelihoodName, residualRiskLevel, riskExposure, riskLevel } from '../../src/continuity/risk-matrix.js';

// CONTINUITY.md "Risk register", row by row: likelihood 1..5, impact 1..5.
const GRID = [
  [0, 0, 1, 1, 1],
  [0, 1, 1, 2, 2],
  [1, 1, 2, 3, 3],
  [1, 2, 3, 3, 4],
  [2, 3, 3, 4, 4],
];
const NAMES = ['very low', 'low', 'medium', 'high', 'very high'];

describe('the 5 × 5 risk matrix', () => {
  const cells = GRID.flatMap((row, l) => row.map((level, i) => ({ likelihood: l + 1, impact: i + 1, level })));

  it.each(cells)('likelihood $likelihood × impact $impact is level $level', ({ likelihood, impact, level }) => {
    expect(riskLevel(likelihood, impact)).toEqual({ level, name: NAMES[level] });
  });

  it('names likelihood and impact as the register does', () => {
    expect(LIKELIHOOD_NAMES).toEqual(['unlikely', 'rather unlikely', 'likely', 'very likely', 'almost certain']);
    expect(IMPACT_NAMES).toEqual(['minor', 'significant', 'serious', 'critical', 'catastrophic']);
    expect(likelihoodName(3)).toBe('likely');
    expect(impactName(5)).toBe('catastrophic');
  });

  it.each([0, 6, 2.5, Number.NaN])('refuses a score of %s', (bad) => {
    expect(() => riskLevel(bad, 3)).toThrow(/likelihood must be an integer from 1 to 5/);
    expect(() => riskLevel(3, bad)).toThrow(/impact must be an integer from 1 to 5/);
  });

  it('rates the residual risk, keeping the assessed score for the half not given', () => {
    expect(residualRiskLevel({ likelihood: 3, impact: 5 })).toBeNull();
    expect(residualRiskLevel({ likelihood: 3, impact: 5, residualLikelihood: 1, residualImpact: 2 })).toEqual({ level: 0, name: 'very low' });
    expect(residualRiskLevel({ likelihood: 3, impact: 5, residualLikelihood: 1 })).toEqual({ level: 1, name: 'low' });
    expect(residualRiskLevel({ residualImpact: 2 })).toBeNull();
  });
});

describe('risk exposure', () => {
  it('sums likelihood × impact over open risks and counts them per level', () => {
    const exposure = riskExposure([
      { likelihood: 3, impact: 5 },
      { likelihood: 5, impact: 5, status: 'open' },
      { likelihood: 1, impact: 1, status: 'open' },
      { likelihood: 4, impact: 4, status: 'closed' },
      { status: 'open' },
    ]);
    expect(exposure).toEqual({ score: 15 + 25 + 1, byLevel: { 'very low': 1, low: 0, medium: 0, high: 1, 'very high': 1 }, unscored: 1 });
  });

  it('is zero with no open risks', () => {
    expect(riskExposure([])).toEqual({ score: 0, byLevel: { 'very low': 0, low: 0, medium: 0, high: 0, 'very high': 0 }, unscored: 0 });
  });
});
