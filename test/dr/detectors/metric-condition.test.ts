import { describe, expect, it } from 'vitest';
import { evaluateMetricCondition, parseMetricCondition, parsePrometheusText } from '../../../src/dr/detectors/metric-condition.js';

describe('parseMetricCondition', () => {
  it.each([
    ['up == 0', { name: 'up', labels: {}, op: '==', value: 0 }],
    ['http_errors_total{job="api"} > 10', { name: 'http_errors_total', labels: { job: 'api' }, op: '>', value: 10 }],
    ['lag_seconds { db = "main", role="replica", } >= 1.5e2', { name: 'lag_seconds', labels: { db: 'main', role: 'replica' }, op: '>=', value: 150 }],
    ['ns:free_bytes{path="C:\\\\data \\"x\\""} < -1', { name: 'ns:free_bytes', labels: { path: 'C:\\data "x"' }, op: '<', value: -1 }],
    ['x<=+Inf', { name: 'x', labels: {}, op: '<=', value: Infinity }],
    ['x != 3', { name: 'x', labels: {}, op: '!=', value: 3 }],
  ])('%s', (text, expected) => expect(parseMetricCondition(text)).toEqual(expected));

  it.each(['', '> 3', 'up', 'up = 1', 'up > ten', 'up{job=api} > 1', 'up{job="api" > 1', 'rate(x[5m]) > 1'])('rejects %j', (text) => expect(() => parseMetricCondition(text)).toThrow());
});

describe('parsePrometheusText', () => {
  it('reads samples, skipping comments, blank and broken lines, with label escapes and timestamps', () => {
    const text = [
      '# HELP http_errors_total Errors.',
      '# TYPE http_errors_total counter',
      'http_errors_total{job="api",code="500"} 12 1700000000000',
      'http_errors_total{job="web"} 3',
      '',
      'up 1',
      'weird{label="a\\nb\\\\c\\"d"} +Inf',
      'temperature NaN',
      'broken{job="x" 4',
      'novalue',
      '  indented_metric   -2.5e-3  ',
    ].join('\n');
    const samples = parsePrometheusText(text);
    expect(samples.filter((s) => !Number.isNaN(s.value))).toEqual([
      { name: 'http_errors_total', labels: { job: 'api', code: '500' }, value: 12 },
      { name: 'http_errors_total', labels: { job: 'web' }, value: 3 },
      { name: 'up', labels: {}, value: 1 },
      { name: 'weird', labels: { label: 'a\nb\\c"d' }, value: Infinity },
      { name: 'indented_metric', labels: {}, value: -0.0025 },
    ]);
    expect(samples.find((s) => s.name === 'temperature')?.value).toBeNaN();
  });
});

describe('evaluateMetricCondition', () => {
  const samples = parsePrometheusText('http_errors_total{job="api",code="500"} 12\nhttp_errors_total{job="web",code="500"} 3\nup{job="api"} 1\n');
  it.each([
    ['http_errors_total > 10', true],
    ['http_errors_total{job="web"} > 10', false],
    ['http_errors_total{job="api"} > 10', true],
    ['http_errors_total{job="api",code="404"} > 10', false],
    ['http_errors_total{code="500"} < 5', true],
    ['http_errors_total >= 12', true],
    ['http_errors_total > 12', false],
    ['up{job="api"} == 0', false],
    ['up != 0', true],
    ['missing_metric > 0', false],
    ['missing_metric <= 0', false],
  ])('%s → %s', (condition, expected) => expect(evaluateMetricCondition(parseMetricCondition(condition), samples)).toBe(expected));
});
