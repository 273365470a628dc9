import { describe, expect, it } from 'vitest';
import { parseTimeExpression } from '../../src/core/time-expression.js';

const now = new Date('2026-11-24T12:00:00Z');

describe('parseTimeExpression', () => {
  it.each([
    ['2026-11-24T02:00:00Z', '2026-11-24T02:00:00.000Z'],
    ['2026-11-24T02:00:00.5+01:00', '2026-11-24T01:00:00.500Z'],
    ['2h ago', '2026-11-24T10:00:00.000Z'],
    ['90 minutes ago', '2026-11-24T10:30:00.000Z'],
    ['3 days ago', '2026-11-21T12:00:00.000Z'],
    ['1 week ago', '2026-11-17T12:00:00.000Z'],
    ['30s ago', '2026-11-24T11:59:30.000Z'],
    ['now', '2026-11-24T12:00:00.000Z'],
  ])('reads %s', (input, expected) => {
    expect(parseTimeExpression(input, now).toISOString()).toBe(expected);
  });

  it('reads named days in local time', () => {
    const y = parseTimeExpression('yesterday 18:00', now);
    const expected = new Date(now);
    expected.setDate(expected.getDate() - 1);
    expected.setHours(18, 0, 0, 0);
    expect(y.getTime()).toBe(expected.getTime());
  });

  it('takes a bare date as the end of that day', () => {
    const d = parseTimeExpression('2026-11-20', now);
    expect(d.getDate()).toBe(20);
    expect(d.getHours()).toBe(23);
  });

  it.each(['tomorrow-ish', '2 fortnights ago', '', '2026-13-45T99:00'])('rejects %j with exit code 2', (input) => {
    expect(() => parseTimeExpression(input, now)).toThrowError(expect.objectContaining({ exitCode: 2 }) as Error);
  });
});
